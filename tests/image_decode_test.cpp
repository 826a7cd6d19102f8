// Decoding against Pillow 9.4: the fixture images (modes, sizes, EXIF orientation from
// tests/data/preprocess/index.json; JPEG pixels from decoded.safetensors), Pillow-made references
// for generated images in every format (tests/data/images_extra, made by make_images.py), and
// clear errors for malformed input.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <thread>
#include <cstring>
#include <map>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "image/decode.h"
#include "io/safetensors.h"

#ifdef CLIPKIT_HAVE_HEIF
#include <libheif/heif.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CLIPKIT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLIPKIT_TEST_ASAN 1
#endif
#endif
#ifdef CLIPKIT_TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

using namespace clipkit;
using namespace clipkit::image;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  const std::string s = read_file(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

// FNV-1a 64, the checksum make_images.py stores (as 16 hex digits).
std::string fnv1a64(const uint8_t* p, size_t n) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001B3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
std::string fnv1a64(const std::vector<uint8_t>& v) { return fnv1a64(v.data(), v.size()); }

const nlohmann::json& extra_reference() {
  static const nlohmann::json ref = load_json(kData + "/images_extra/reference.json");
  return ref;
}

// Compares a decoded image with Pillow's description of the same file (see make_images.py).
void expect_matches_pillow(const Image& img, const nlohmann::json& e) {
  EXPECT_EQ(img.format, e["format"].get<std::string>());
  EXPECT_EQ(mode_name(img.mode), e["mode"].get<std::string>());
  EXPECT_EQ(img.width, e["width"].get<int>());
  EXPECT_EQ(img.height, e["height"].get<int>());
  EXPECT_EQ(img.exif_orientation, e["orientation"].get<int>());
  ASSERT_EQ(img.pixels.size(), size_t(img.height) * img.row_bytes());
  EXPECT_EQ(fnv1a64(img.pixels), e["pixels_fnv"].get<std::string>()) << "decoded samples differ from Pillow's";
  if (e.contains("palette")) {
    const auto& pal = e["palette"];
    ASSERT_EQ(img.palette.size(), pal["entries"].get<size_t>());
    std::vector<uint8_t> rgb;
    for (const auto& c : img.palette) rgb.insert(rgb.end(), c.begin(), c.begin() + 3);
    EXPECT_EQ(fnv1a64(rgb), pal["rgb_fnv"].get<std::string>()) << "palette differs";
    const auto alpha = pal["alpha"].get<std::vector<int>>();
    for (size_t i = 0; i < img.palette.size(); ++i) EXPECT_EQ(img.palette[i][3], alpha[i]) << "palette alpha " << i;
    EXPECT_EQ(img.palette_has_alpha, pal["has_alpha"].get<bool>());
  } else {
    EXPECT_TRUE(img.palette.empty());
  }
  const Image rgb = convert_to_rgb(img);
  EXPECT_EQ(rgb.mode, Mode::kRGB);
  EXPECT_EQ(fnv1a64(rgb.pixels), e["rgb_fnv"].get<std::string>()) << "convert(\"RGB\") differs";
  const Image t = exif_transpose(img);
  EXPECT_EQ(t.width, e["transposed"]["width"].get<int>());
  EXPECT_EQ(t.height, e["transposed"]["height"].get<int>());
  EXPECT_EQ(t.exif_orientation, 1);
  EXPECT_EQ(fnv1a64(t.pixels), e["transposed"]["pixels_fnv"].get<std::string>()) << "exif_transpose differs";
}

}  // namespace

TEST(ImageDecode, FixtureImagesHavePillowModeSizeAndOrientation) {
  const auto index = load_json(kData + "/preprocess/index.json");
  int checked = 0;
  for (const auto& [name, e] : index.items()) {
    SCOPED_TRACE(name);
    const Image img = decode_file(kData + "/" + e["file"].get<std::string>());
    EXPECT_EQ(mode_name(img.mode), e["pil_mode"].get<std::string>());
    EXPECT_EQ(img.format, e["pil_format"].get<std::string>());
    EXPECT_EQ(img.width, e["width"].get<int>());
    EXPECT_EQ(img.height, e["height"].get<int>());
    const int orientation = e["exif_orientation"].is_null() ? 1 : e["exif_orientation"].get<int>();
    EXPECT_EQ(img.exif_orientation, orientation);
    EXPECT_EQ(img.pixels.size(), size_t(img.height) * img.row_bytes());
    if (e.contains("palette_entries")) EXPECT_EQ(img.palette.size(), e["palette_entries"].get<size_t>());
    ++checked;
  }
  EXPECT_EQ(checked, 12);
}

TEST(ImageDecode, JpegPixelsMatchPillowBitExactly) {
  const auto index = load_json(kData + "/preprocess/index.json");
  const auto decoded = io::SafetensorsFile::open(kData + "/preprocess/decoded.safetensors");
  int checked = 0;
  for (const auto& [name, e] : index.items()) {
    if (!e.contains("decoded_key")) continue;
    SCOPED_TRACE(name);
    const Tensor& ref = decoded.get(e["decoded_key"].get<std::string>());
    ASSERT_EQ(ref.dtype(), DType::U8);
    const Image img = decode_file(kData + "/" + e["file"].get<std::string>());
    ASSERT_EQ(ref.ndim(), 3);
    ASSERT_EQ(ref.dim(0), img.height);
    ASSERT_EQ(ref.dim(1), img.width);
    ASSERT_EQ(ref.dim(2), img.channels());
    ASSERT_EQ(img.pixels.size(), size_t(ref.numel()));
    const uint8_t* want = ref.data<uint8_t>();
    size_t mismatches = 0, first = 0;
    for (size_t i = 0; i < img.pixels.size(); ++i)
      if (img.pixels[i] != want[i] && mismatches++ == 0) first = i;
    EXPECT_EQ(mismatches, 0u) << "first mismatch at byte " << first;
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

// Every generated image (all formats and layouts) and every fixture image, against Pillow.
TEST(ImageDecode, MatchesPillowOnEveryReferenceImage) {
  const auto& images = extra_reference()["images"];
  ASSERT_GE(images.size(), 100u);
  for (const auto& [file, e] : images.items()) {
    SCOPED_TRACE(file);
    Image img;
    try {
      img = decode_file(kData + "/" + file);
    } catch (const Error& err) {
      ADD_FAILURE() << "decode failed: " << err.what();
      continue;
    }
    expect_matches_pillow(img, e);
  }
}

// Malformed files: an Error wherever Pillow refuses the file, Pillow's pixels where it does not.
TEST(ImageDecode, MalformedFilesFollowPillow) {
  const auto& bad = extra_reference()["bad"];
  ASSERT_GE(bad.size(), 20u);
  for (const auto& [file, e] : bad.items()) {
    SCOPED_TRACE(file);
    const std::string path = kData + "/" + file;
    if (e["pillow_refuses"].get<bool>()) {
      EXPECT_THROW(decode_file(path), Error);
    } else {
      expect_matches_pillow(decode_file(path), e);
    }
  }
}

TEST(ImageDecode, TruncatedFilesFollowPillow) {
  const auto& cases = extra_reference()["truncated"];
  ASSERT_GE(cases.size(), 300u);
  std::map<std::string, std::vector<uint8_t>> sources;
  int refused = 0;
  for (const auto& e : cases) {
    const std::string src = e["source"].get<std::string>();
    const size_t len = e["length"].get<size_t>();
    SCOPED_TRACE(src + " cut at " + std::to_string(len));
    auto it = sources.find(src);
    if (it == sources.end()) it = sources.emplace(src, read_bytes(kData + "/" + src)).first;
    ASSERT_LT(len, it->second.size());
    // A copy of exactly `len` bytes, so that any read past the end is caught by the sanitizers.
    const std::vector<uint8_t> cut(it->second.begin(), it->second.begin() + len);
    if (e["pillow_refuses"].get<bool>()) {
      ++refused;
      try {
        decode_memory(cut.data(), cut.size(), src);
        ADD_FAILURE() << "decoded, but Pillow refuses this file";
      } catch (const Error& err) {
        // The message names the file.
        EXPECT_NE(std::string(err.what()).find(src), std::string::npos) << err.what();
      }
    } else {
      try {
        expect_matches_pillow(decode_memory(cut.data(), cut.size(), src), e);
      } catch (const Error& err) {
        ADD_FAILURE() << "Pillow opens this file, decode failed: " << err.what();
      }
    }
  }
  EXPECT_GT(refused, 200);
}

TEST(ImageDecode, DecompressionBombGuardUsesHeaderSize) {
  const std::string path = kData + "/images/chelsea.png";  // 451 x 300 = 135300 pixels
  DecodeOptions opts;
  opts.max_pixels = 135300;
  EXPECT_NO_THROW(decode_file(path, opts));
  opts.max_pixels = 135299;
  try {
    decode_file(path, opts);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("chelsea.png"), std::string::npos) << msg;
    EXPECT_NE(msg.find("135299"), std::string::npos) << msg;
    EXPECT_NE(msg.find("decompression bomb"), std::string::npos) << msg;
  }
  // Every format checks before it decodes pixel data; 0 disables the guard.
  for (const char* f : {"images/rocket.jpg", "images_extra/gen/gif_p.gif", "images_extra/gen/webp_lossy.webp",
                        "images_extra/gen/bmp_rgb24.bmp", "images_extra/gen/tiff_rgb_tiff_lzw.tif"}) {
    SCOPED_TRACE(f);
    opts.max_pixels = 10;
    EXPECT_THROW(decode_file(kData + "/" + f, opts), Error);
    opts.max_pixels = 0;
    EXPECT_NO_THROW(decode_file(kData + "/" + f, opts));
  }
}

TEST(ImageDecode, DefaultGuardIsTwicePillowsLimit) {
  EXPECT_EQ(DecodeOptions{}.max_pixels, 2ull * 89478485ull);
}

TEST(ImageDecode, MissingFileAndDirectoryAreClearErrors) {
  try {
    decode_file(kData + "/images/does_not_exist.png");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does_not_exist.png"), std::string::npos) << e.what();
  }
  EXPECT_THROW(decode_file(kData + "/images"), Error);
}

TEST(ImageDecode, UnknownFormatNamesTheBytes) {
  const uint8_t junk[] = {'h', 'e', 'l', 'l', 'o', 0, 1, 2, 3};
  try {
    decode_memory(junk, sizeof junk, "junk.bin");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("junk.bin"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unknown image format"), std::string::npos) << msg;
  }
  EXPECT_THROW(decode_memory(junk, 0, "empty"), Error);
}

// Decoding different files on different threads gives the same images as decoding them one by
// one (libjpeg, libpng, libtiff, libwebp state is per call; libtiff errors go to per-handle
// handlers).
TEST(ImageDecode, ConcurrentDecodesAgree) {
  std::vector<std::string> files;
  for (const auto& [file, e] : extra_reference()["images"].items()) files.push_back(kData + "/" + file);
  std::vector<std::string> sums(files.size());
  for (size_t i = 0; i < files.size(); ++i) sums[i] = fnv1a64(decode_file(files[i]).pixels);
  std::atomic<size_t> next{0};
  std::atomic<int> mismatches{0}, errors{0};
  auto worker = [&] {
    for (int round = 0; round < 2; ++round) {
      for (size_t i = next++; i < files.size() * 2; i = next++) {
        const size_t k = i % files.size();
        try {
          if (fnv1a64(decode_file(files[k]).pixels) != sums[k]) ++mismatches;
        } catch (...) {
          ++errors;
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(errors.load(), 0);
  // Errors raised concurrently keep their own messages.
  std::vector<std::thread> bad;
  std::atomic<int> wrong_message{0};
  for (int t = 0; t < 4; ++t)
    bad.emplace_back([&, t] {
      const std::string label = "bad" + std::to_string(t) + ".tif";
      const std::vector<uint8_t> data = read_bytes(kData + "/images_extra/bad/tiff_header_garbage.tif");
      for (int i = 0; i < 20; ++i) {
        try {
          decode_memory(data.data(), data.size(), label);
          ++wrong_message;
        } catch (const Error& e) {
          if (std::string(e.what()).find(label) == std::string::npos) ++wrong_message;
        }
      }
    });
  for (auto& t : bad) t.join();
  EXPECT_EQ(wrong_message.load(), 0);
}

// Bounded random mutations of valid files in every format (bit flips, overwritten runs, cuts,
// duplicated or dropped ranges): each decode must either succeed with a consistent image or throw
// clipkit::Error; anything else (another exception type, a crash, a sanitizer report) fails.
// Deterministic seed; about a few thousand decodes.
TEST(ImageDecode, RandomMutationsEndInImageOrError) {
  std::vector<std::string> seeds = {"images/rocket.jpg", "images/cmyk.jpg", "images/palette.png", "images/tiny_7x5.png"};
  for (const auto& [file, e] : extra_reference()["images"].items())
    if (file.rfind("images_extra/gen/", 0) == 0) seeds.push_back(file);
  std::mt19937_64 rng(12345);
  int decoded = 0, refused = 0;
  DecodeOptions opts;
  opts.max_pixels = 1 << 22;  // mutated headers must not make the test allocate gigabytes
  for (const std::string& f : seeds) {
    const std::vector<uint8_t> orig = read_bytes(kData + "/" + f);
    for (int iter = 0; iter < 24; ++iter) {
      std::vector<uint8_t> d = orig;
      const int edits = 1 + int(rng() % 4);
      for (int k = 0; k < edits && !d.empty(); ++k) {
        const size_t pos = rng() % d.size();
        switch (rng() % 6) {
          case 0: d[pos] ^= uint8_t(1u << (rng() % 8)); break;
          case 1: d[pos] = uint8_t(rng()); break;
          case 2: {
            const size_t n = std::min<size_t>(d.size() - pos, 1 + rng() % 16);
            for (size_t i = 0; i < n; ++i) d[pos + i] = uint8_t(rng() % 2 ? 0xFF : rng());
            break;
          }
          case 3: d.resize(pos); break;
          case 4: {
            const size_t n = std::min<size_t>(d.size() - pos, 1 + rng() % 64);
            d.insert(d.begin() + long(pos), d.begin() + long(pos), d.begin() + long(pos + n));
            break;
          }
          default: {
            const size_t n = std::min<size_t>(d.size() - pos, 1 + rng() % 64);
            d.erase(d.begin() + long(pos), d.begin() + long(pos + n));
          }
        }
      }
      d.shrink_to_fit();
      try {
        const Image img = decode_memory(d.data(), d.size(), f, opts);
        ASSERT_EQ(img.pixels.size(), size_t(img.height) * img.row_bytes()) << f;
        ASSERT_GT(img.width, 0);
        ASSERT_GT(img.height, 0);
        (void)convert_to_rgb(img);
        (void)exif_transpose(img);
        ++decoded;
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(decoded, 100);
  EXPECT_GT(refused, 100);
}

#ifdef CLIPKIT_HAVE_HEIF
// HEIC and AVIF: encoded here with libheif (Pillow 9.4 has no HEIF support to make references),
// then decoded; a high-quality encode must come back close to the original colours.
TEST(ImageDecode, HeifRoundTrip) {
  heif_init(nullptr);
  const int w = 64, h = 48;
  for (heif_compression_format fmt : {heif_compression_HEVC, heif_compression_AV1}) {
    SCOPED_TRACE(fmt == heif_compression_HEVC ? "HEVC" : "AV1");
#ifdef CLIPKIT_TEST_ASAN
    // libx265 keeps one allocation for the life of the process; it is the encoder's (used only to
    // make this test's input), not the decoder's, so leak checking is paused while encoding.
    __lsan_disable();
#endif
    heif_context* ctx = heif_context_alloc();
    heif_encoder* enc = nullptr;
    if (heif_context_get_encoder_for_format(ctx, fmt, &enc).code != heif_error_Ok) {
      heif_context_free(ctx);
#ifdef CLIPKIT_TEST_ASAN
      __lsan_enable();
#endif
      GTEST_SKIP() << "libheif has no encoder for this format";
    }
    heif_encoder_set_lossy_quality(enc, 95);
    heif_image* img = nullptr;
    ASSERT_EQ(heif_image_create(w, h, heif_colorspace_RGB, heif_chroma_interleaved_RGB, &img).code, heif_error_Ok);
    ASSERT_EQ(heif_image_add_plane(img, heif_channel_interleaved, w, h, 8).code, heif_error_Ok);
    int stride = 0;
    uint8_t* p = heif_image_get_plane(img, heif_channel_interleaved, &stride);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        p[y * stride + 3 * x] = uint8_t(x * 4);
        p[y * stride + 3 * x + 1] = uint8_t(y * 5);
        p[y * stride + 3 * x + 2] = uint8_t(128);
      }
    ASSERT_EQ(heif_context_encode_image(ctx, img, enc, nullptr, nullptr).code, heif_error_Ok);
    std::vector<uint8_t> file;
    heif_writer writer{};
    writer.writer_api_version = 1;
    writer.write = [](heif_context*, const void* data, size_t size, void* user) {
      auto* out = static_cast<std::vector<uint8_t>*>(user);
      out->insert(out->end(), static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + size);
      return heif_error{heif_error_Ok, heif_suberror_Unspecified, "ok"};
    };
    ASSERT_EQ(heif_context_write(ctx, &writer, &file).code, heif_error_Ok);
    heif_image_release(img);
    heif_encoder_release(enc);
    heif_context_free(ctx);
#ifdef CLIPKIT_TEST_ASAN
    __lsan_enable();
#endif

    const Image got = decode_memory(file.data(), file.size(), "roundtrip");
    EXPECT_EQ(got.format, fmt == heif_compression_HEVC ? "HEIF" : "AVIF");
    EXPECT_EQ(got.mode, Mode::kRGB);
    ASSERT_EQ(got.width, w);
    ASSERT_EQ(got.height, h);
    double err = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const uint8_t* q = got.row(y) + 3 * x;
        err += std::abs(q[0] - x * 4) + std::abs(q[1] - y * 5) + std::abs(q[2] - 128);
      }
    EXPECT_LT(err / (w * h * 3), 4.0);
    // Truncated containers are errors.
    EXPECT_THROW(decode_memory(file.data(), file.size() / 2, "half"), Error);
  }
}
#else
TEST(ImageDecode, HeifIsReportedUnsupported) {
  const uint8_t ftyp[] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c', 0, 0, 0, 0, 'm', 'i', 'f', '1', 'h', 'e', 'i', 'c'};
  try {
    decode_memory(ftyp, sizeof ftyp, "x.heic");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not supported in this build"), std::string::npos) << e.what();
  }
}
#endif
