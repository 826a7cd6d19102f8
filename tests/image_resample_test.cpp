// Pillow-exact resampling: every case of tests/data/resample/refs.safetensors (Pillow 9.4's
// Image.resize, written by scripts/gen_resample_refs.py) must be reproduced bit for bit, with the
// vector kernels and with the portable scalar ones; plus the argument checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "image/resample.h"
#include "image/resample_coeffs.h"
#include "image/resample_kernels.h"
#include "io/safetensors.h"

namespace ci = clipkit::image;
using clipkit::Tensor;

namespace {

const std::string kRefs = std::string(CLIPKIT_TEST_DATA) + "/resample/refs.safetensors";

ci::Mode mode_from_name(const std::string& s) {
  for (ci::Mode m : {ci::Mode::kOne, ci::Mode::kL, ci::Mode::kLA, ci::Mode::kP, ci::Mode::kPA,
                     ci::Mode::kRGB, ci::Mode::kRGBA, ci::Mode::kCMYK, ci::Mode::kI16, ci::Mode::kI,
                     ci::Mode::kF})
    if (s == ci::mode_name(m)) return m;
  throw clipkit::Error("unknown mode " + s);
}

// The generator's hash noise (see hash_pixels in scripts/gen_resample_refs.py).
uint8_t hash_pixel(uint32_t seed, uint32_t x, uint32_t y, uint32_t c) {
  uint32_t v = (x * 73856093u) ^ (y * 19349663u) ^ (c * 83492791u) ^ (seed * 2654435761u);
  v ^= v >> 13;
  v *= 0x5bd1e995u;
  v ^= v >> 15;
  return uint8_t(v & 255);
}

// Pixels of a reference tensor (HWC, I32 for I and I;16) as an Image of `mode`.
ci::Image image_from_tensor(const Tensor& t, ci::Mode mode) {
  ci::Image img;
  img.mode = mode;
  img.height = int(t.dim(0));
  img.width = int(t.dim(1));
  const size_t n = size_t(t.numel());
  if (mode == ci::Mode::kI16) {
    img.pixels.resize(n * 2);
    for (size_t i = 0; i < n; ++i) {
      const uint16_t v = uint16_t(t.data<int32_t>()[i]);
      std::memcpy(img.pixels.data() + 2 * i, &v, 2);
    }
  } else {
    img.pixels.assign(static_cast<const uint8_t*>(t.raw()),
                      static_cast<const uint8_t*>(t.raw()) + t.nbytes());
  }
  if (mode == ci::Mode::kP || mode == ci::Mode::kPA) img.palette.assign(256, {0, 0, 0, 255});
  return img;
}

// Bytes of the window [x, y, w, h] of `img` in the reference layout (I;16 widened to int32).
std::vector<uint8_t> window_bytes(const ci::Image& img, int x, int y, int w, int h) {
  std::vector<uint8_t> out;
  const size_t bpp = size_t(img.channels()) * ci::mode_sample_bytes(img.mode);
  for (int r = y; r < y + h; ++r) {
    const uint8_t* p = img.row(r) + size_t(x) * bpp;
    if (img.mode == ci::Mode::kI16) {
      for (int i = 0; i < w; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        const int32_t wv = v;
        const auto* b = reinterpret_cast<const uint8_t*>(&wv);
        out.insert(out.end(), b, b + 4);
      }
    } else {
      out.insert(out.end(), p, p + size_t(w) * bpp);
    }
  }
  return out;
}

struct RunSummary {
  int cases = 0, failed = 0;
};

// With `windowed`, each case is resampled through resize_window: the stored window for cases that
// have one, otherwise an interior rectangle compared against that part of the reference.
RunSummary run_all_cases(bool windowed) {
  RunSummary s;
  auto f = clipkit::io::SafetensorsFile::open(kRefs);
  const auto cases = nlohmann::json::parse(f.metadata().at("cases"));
  for (const auto& cs : cases) {
    const std::string id = cs["id"];
    const ci::Mode mode = mode_from_name(cs["mode"]);
    ci::Image src;
    if (!cs["input"].is_null()) {
      src = image_from_tensor(f.get(cs["input"].get<std::string>()), mode);
    } else {
      src.mode = mode;
      src.width = cs["in_size"][0];
      src.height = cs["in_size"][1];
      const int c = src.channels();
      const uint32_t seed = cs["gen"]["seed"];
      src.pixels.resize(size_t(src.width) * src.height * c);
      for (int y = 0; y < src.height; ++y)
        for (int x = 0; x < src.width; ++x)
          for (int ch = 0; ch < c; ++ch)
            src.pixels[(size_t(y) * src.width + x) * c + ch] = hash_pixel(seed, x, y, ch);
    }
    const ci::Filter filter = ci::parse_filter(cs["filter"].get<std::string>());
    ci::ResizeBox box{};
    const bool has_box = !cs["box"].is_null();
    if (has_box)
      box = {cs["box"][0].get<float>(), cs["box"][1].get<float>(), cs["box"][2].get<float>(),
             cs["box"][3].get<float>()};
    const int ow = cs["out_size"][0], oh = cs["out_size"][1];
    ++s.cases;
    // The stored reference covers window `ref` of the result.
    ci::Window ref{0, 0, ow, oh};
    if (!cs["window"].is_null()) ref = {cs["window"][0], cs["window"][1], cs["window"][2], cs["window"][3]};
    ci::Window want_win = ref;
    if (windowed && cs["window"].is_null())
      want_win = {ow / 3, oh / 4, std::max(1, ow / 2), std::max(1, oh / 2)};
    const ci::Image ref_img = image_from_tensor(f.get("out/" + id), mode);
    std::vector<uint8_t> want_bytes =
        window_bytes(ref_img, want_win.x - ref.x, want_win.y - ref.y, want_win.width, want_win.height);
    ci::Image out;
    std::vector<uint8_t> got;
    if (windowed) {
      out = ci::resize_window(src, ow, oh, filter, has_box ? &box : nullptr, want_win);
      got = window_bytes(out, 0, 0, want_win.width, want_win.height);
    } else {
      out = ci::resize(src, ow, oh, filter, has_box ? &box : nullptr);
      if (out.width != ow || out.height != oh) {
        ++s.failed;
        ADD_FAILURE() << id << ": got " << out.width << "x" << out.height;
        continue;
      }
      got = window_bytes(out, ref.x, ref.y, ref.width, ref.height);
    }
    if (out.mode != mode) {
      ++s.failed;
      ADD_FAILURE() << id << ": got mode " << ci::mode_name(out.mode);
      continue;
    }
    if (got.size() != want_bytes.size()) {
      ++s.failed;
      ADD_FAILURE() << id << ": " << got.size() << " bytes, reference has " << want_bytes.size();
      continue;
    }
    const uint8_t* wp = want_bytes.data();
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (got[i] != wp[i] && bad++ == 0) first = i;
    if (bad) {
      ++s.failed;
      ADD_FAILURE() << id << ": " << bad << " of " << got.size() << " bytes differ, first at byte "
                    << first << " (got " << int(got[first]) << ", Pillow " << int(wp[first]) << ")";
    }
  }
  return s;
}

}  // namespace

TEST(Resample, PillowReferencesVectorKernels) {
  ci::detail::set_force_scalar_kernels(false);
  const RunSummary s = run_all_cases(false);
  std::printf("resample refs (%s kernels): %d cases, %d failed\n",
              ci::detail::vector_kernels_available() ? "AVX2" : "scalar", s.cases, s.failed);
  EXPECT_GT(s.cases, 300);
  EXPECT_EQ(s.failed, 0);
}

TEST(Resample, PillowReferencesScalarKernels) {
  ci::detail::set_force_scalar_kernels(true);
  const RunSummary s = run_all_cases(false);
  ci::detail::set_force_scalar_kernels(false);
  std::printf("resample refs (scalar kernels): %d cases, %d failed\n", s.cases, s.failed);
  EXPECT_EQ(s.failed, 0);
}

TEST(Resample, WindowsOfTheResultAreBitIdentical) {
  const RunSummary s = run_all_cases(true);
  std::printf("resample refs through resize_window: %d cases, %d failed\n", s.cases, s.failed);
  EXPECT_EQ(s.failed, 0);
  ci::Image img;
  img.mode = ci::Mode::kRGB;
  img.width = 4;
  img.height = 4;
  img.pixels.assign(48, 1);
  EXPECT_THROW(ci::resize_window(img, 8, 8, ci::Filter::kBicubic, nullptr, {4, 4, 5, 1}),
               clipkit::Error);
  EXPECT_THROW(ci::resize_window(img, 8, 8, ci::Filter::kBicubic, nullptr, {0, 0, 0, 1}),
               clipkit::Error);
}

TEST(Resample, ParsesFilterNames) {
  EXPECT_EQ(ci::parse_filter("BICUBIC"), ci::Filter::kBicubic);
  EXPECT_EQ(ci::parse_filter("antialias"), ci::Filter::kLanczos);
  EXPECT_EQ(ci::parse_filter("nearest"), ci::Filter::kNearest);
  EXPECT_THROW(ci::parse_filter("cubic-spline"), clipkit::Error);
  for (auto f : {ci::Filter::kNearest, ci::Filter::kBox, ci::Filter::kBilinear, ci::Filter::kHamming,
                 ci::Filter::kBicubic, ci::Filter::kLanczos})
    EXPECT_EQ(ci::parse_filter(ci::filter_name(f)), f);
}

TEST(Resample, RejectsBadSizesWithClearErrors) {
  ci::Image img;
  img.mode = ci::Mode::kRGB;
  EXPECT_THROW(ci::resize(img, 10, 10, ci::Filter::kBicubic), clipkit::Error);  // empty image
  img.width = 4;
  img.height = 3;
  img.pixels.assign(4 * 3 * 3, 7);
  try {
    ci::resize(img, 0, 10, ci::Filter::kBicubic);
    FAIL() << "zero width accepted";
  } catch (const clipkit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("0x10"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ci::resize(img, 1 << 21, 10, ci::Filter::kBicubic), clipkit::Error);
  EXPECT_THROW(ci::resize(img, 100000, 100000, ci::Filter::kBilinear), clipkit::Error);
  ci::ResizeBox outside{0, 0, 5, 3};
  EXPECT_THROW(ci::resize(img, 2, 2, ci::Filter::kBicubic, &outside), clipkit::Error);
  ci::ResizeBox negative{-1, 0, 3, 3};
  EXPECT_THROW(ci::resize(img, 2, 2, ci::Filter::kBicubic, &negative), clipkit::Error);
  ci::Image short_buffer = img;
  short_buffer.pixels.resize(5);
  EXPECT_THROW(ci::resize(short_buffer, 2, 2, ci::Filter::kBicubic), clipkit::Error);
  ci::Image i16;
  i16.mode = ci::Mode::kI16;
  i16.width = 3;
  i16.height = 3;
  i16.pixels.assign(18, 1);
  EXPECT_THROW(ci::resize(i16, 2, 2, ci::Filter::kBicubic), clipkit::Error);  // as Pillow 9.4
  EXPECT_NO_THROW(ci::resize(i16, 2, 2, ci::Filter::kNearest));
}

TEST(Resample, SameSizeIsACopyEvenForAlpha) {
  // Pillow returns a copy before premultiplying, so colours under alpha 0 survive.
  ci::Image img;
  img.mode = ci::Mode::kRGBA;
  img.width = 2;
  img.height = 1;
  img.pixels = {10, 20, 30, 0, 200, 100, 50, 128};
  const ci::Image out = ci::resize(img, 2, 1, ci::Filter::kBicubic);
  EXPECT_EQ(out.pixels, img.pixels);
}

TEST(Resample, CoefficientTablesAreSharedAndMatchPillowsFormula) {
  auto a = ci::detail::axis_coeffs(640, 0.f, 640.f, 335, ci::Filter::kBicubic);
  auto b = ci::detail::axis_coeffs(640, 0.f, 640.f, 335, ci::Filter::kBicubic);
  EXPECT_EQ(a.get(), b.get());
  // Pillow: ksize = ceil(2 * 640/335) * 2 + 1 = 9; every row's fixed-point weights sum to about
  // 2^22 (each is rounded separately).
  EXPECT_EQ(a->ksize, 9);
  for (int i = 0; i < a->out_size; ++i) {
    int64_t sum = 0;
    for (int t = 0; t < a->count[i]; ++t) sum += a->fixed_row(i)[t];
    EXPECT_NEAR(double(sum), double(1 << 22), 8.0) << i;
  }
  // The bicubic kernel at a few points (a = -0.5).
  EXPECT_DOUBLE_EQ(ci::detail::filter_kernel(ci::Filter::kBicubic, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(ci::detail::filter_kernel(ci::Filter::kBicubic, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(ci::detail::filter_kernel(ci::Filter::kBicubic, 0.5), 0.5625);
  EXPECT_DOUBLE_EQ(ci::detail::filter_kernel(ci::Filter::kBicubic, 1.5), -0.0625);
}

TEST(Resample, PremultiplyUsesPillowsIntegerArithmetic) {
  ci::Image img;
  img.mode = ci::Mode::kRGBA;
  img.width = 3;
  img.height = 1;
  img.pixels = {255, 128, 1, 128, 77, 200, 33, 0, 9, 8, 7, 255};
  ci::premultiply_alpha(img);
  // MULDIV255(255,128)=128, (128,128)=64, (1,128)=1; alpha 0 zeroes colour; alpha 255 keeps it.
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{128, 64, 1, 128, 0, 0, 0, 0, 9, 8, 7, 255}));
  ci::unpremultiply_alpha(img);
  // 255*128/128 = 255, 255*64/128 = 127, 255*1/128 = 1.
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{255, 127, 1, 128, 0, 0, 0, 0, 9, 8, 7, 255}));

  // Every (colour, alpha) pair, in RGBA and LA, against Pillow's formulas.
  for (ci::Mode mode : {ci::Mode::kRGBA, ci::Mode::kLA}) {
    ci::Image all;
    all.mode = mode;
    all.width = 256;
    all.height = 256;
    const int c = all.channels();
    all.pixels.resize(size_t(256) * 256 * c);
    for (int a = 0; a < 256; ++a)
      for (int v = 0; v < 256; ++v) {
        uint8_t* px = all.pixels.data() + (size_t(a) * 256 + v) * c;
        for (int ch = 0; ch < c - 1; ++ch) px[ch] = uint8_t(v);
        px[c - 1] = uint8_t(a);
      }
    ci::Image pre = all;
    ci::premultiply_alpha(pre);
    ci::Image back = pre;
    ci::unpremultiply_alpha(back);
    int bad = 0;
    for (int a = 0; a < 256; ++a)
      for (int v = 0; v < 256; ++v) {
        const size_t i = (size_t(a) * 256 + v) * c;
        const unsigned t = unsigned(v) * a + 128, m = ((t >> 8) + t) >> 8;
        const unsigned u = (a == 0 || a == 255) ? m : std::min(255u, 255u * m / a);
        for (int ch = 0; ch < c - 1; ++ch) bad += pre.pixels[i + ch] != m || back.pixels[i + ch] != u;
        bad += pre.pixels[i + c - 1] != a || back.pixels[i + c - 1] != a;
      }
    EXPECT_EQ(bad, 0) << ci::mode_name(mode);
  }
}

// The vector kernels (row-block transposition, tail handling, windows) against the scalar ones,
// which the Pillow references pin down, on random shapes, modes, filters and windows, for both
// weight flavours.
TEST(Resample, VectorKernelsAgreeWithScalarOnRandomShapes) {
  uint32_t s = 2024;
  auto rnd = [&](int lo, int hi) {
    s = s * 1664525u + 1013904223u;
    return lo + int((s >> 8) % uint32_t(hi - lo + 1));
  };
  const ci::Mode modes[] = {ci::Mode::kL, ci::Mode::kLA, ci::Mode::kRGB, ci::Mode::kRGBA,
                            ci::Mode::kCMYK};
  int checked = 0, bad = 0;
  for (int it = 0; it < 400; ++it) {
    ci::Image img;
    img.mode = modes[rnd(0, 4)];
    img.width = rnd(1, 90);
    img.height = rnd(1, 40);
    img.pixels.resize(size_t(img.width) * img.height * img.channels());
    for (auto& p : img.pixels) p = uint8_t(rnd(0, 255));
    const int ow = rnd(1, 120), oh = rnd(1, 50);
    const bool torch = rnd(0, 3) == 0;
    const ci::Filter f = torch ? (rnd(0, 1) ? ci::Filter::kBicubic : ci::Filter::kBilinear)
                               : ci::Filter(rnd(1, 5));
    const int wx = rnd(0, ow - 1), wy = rnd(0, oh - 1);
    const ci::Window w{wx, wy, rnd(1, ow - wx), rnd(1, oh - wy)};
    auto run = [&](bool scalar) {
      ci::detail::set_force_scalar_kernels(scalar);
      ci::Image r = torch ? ci::resize_torch_antialias(img, ow, oh, f, &w)
                          : ci::resize_window(img, ow, oh, f, nullptr, w);
      ci::detail::set_force_scalar_kernels(false);
      return r;
    };
    const ci::Image a = run(false), b = run(true);
    ++checked;
    if (a.pixels != b.pixels) {
      ++bad;
      ADD_FAILURE() << ci::mode_name(img.mode) << " " << img.width << "x" << img.height << " -> "
                    << ow << "x" << oh << " " << ci::filter_name(f) << (torch ? " (torch)" : "")
                    << " window " << w.width << "x" << w.height << "+" << w.x << "+" << w.y;
    }
  }
  std::printf("vector vs scalar kernels: %d random cases, %d differ\n", checked, bad);
}
