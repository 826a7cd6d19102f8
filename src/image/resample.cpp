// Image.resize of Pillow 9.4: the mode rules of Image.py (NEAREST for 1/P, premultiplied alpha for
// RGBA/LA, copy for an unchanged size), the argument checks and crop shortcut of _imaging.c's
// _resize, the two-pass driver of ImagingResampleInner, and NEAREST as ImagingScaleAffine (or
// ImagingGenericTransform for I;16) computes it.
#include "image/resample.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "image/resample_coeffs.h"
#include "image/resample_kernels.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace clipkit::image {
namespace {

size_t pixel_bytes(Mode m) { return size_t(mode_channels(m)) * mode_sample_bytes(m); }

Image blank_like(const Image& img, int width, int height) {
  Image out;
  out.width = width;
  out.height = height;
  out.mode = img.mode;
  out.palette = img.palette;
  out.palette_has_alpha = img.palette_has_alpha;
  out.exif_orientation = img.exif_orientation;
  out.format = img.format;
  out.pixels.assign(size_t(width) * height * pixel_bytes(img.mode), 0);
  return out;
}

void check_image(const Image& img) {
  CLIPKIT_CHECK(img.width > 0 && img.height > 0, "resize: the ", mode_name(img.mode),
                " image is empty (", img.width, "x", img.height, ")");
  const size_t want = size_t(img.width) * img.height * pixel_bytes(img.mode);
  CLIPKIT_CHECK(img.pixels.size() == want, "resize: ", img.width, "x", img.height, " ",
                mode_name(img.mode), " image holds ", img.pixels.size(), " bytes of pixels, ",
                want, " expected");
}

void check_target(const Image& img, int width, int height) {
  CLIPKIT_CHECK(width >= 1 && height >= 1, "resize: target size ", width, "x", height,
                " must be at least 1x1 (resizing a ", img.width, "x", img.height, " image)");
  CLIPKIT_CHECK(width <= kMaxResizeSide && height <= kMaxResizeSide &&
                    uint64_t(width) * uint64_t(height) <= kMaxResizePixels,
                "resize: target size ", width, "x", height, " is too large (at most ",
                kMaxResizeSide, " pixels a side and ", kMaxResizePixels, " pixels; resizing a ",
                img.width, "x", img.height, " image)");
}

// A rectangle of `img` copied out (ImagingCrop, and the window of a copy).
Image crop_box(const Image& img, int x0, int y0, int width, int height) {
  Image out = blank_like(img, width, height);
  const size_t bpp = pixel_bytes(img.mode);
  for (int y = 0; y < height; ++y)
    std::memcpy(out.row(y), img.row(y0 + y) + size_t(x0) * bpp, size_t(width) * bpp);
  return out;
}

// Pillow's COORD(): -1 for negative coordinates, truncation otherwise.
inline int coord(double v) { return v < 0.0 ? -1 : int(v); }

// ImagingScaleAffine: a running double coordinate per axis, a table of source columns, and zero
// fill where a coordinate falls outside the source. The running sums are walked from the first
// pixel even for a window, since each step's rounding depends on the ones before.
Image nearest_scale(const Image& img, int width, int height, const ResizeBox& b, const Window& w) {
  Image out = blank_like(img, w.width, w.height);
  const size_t bpp = pixel_bytes(img.mode);
  const double a0 = double(b.x1 - b.x0) / width;
  const double a4 = double(b.y1 - b.y0) / height;
  const double a2 = b.x0, a5 = b.y0;
  std::vector<int> xintab(size_t(width), 0);
  int xmin = width, xmax = 0;
  double xo = a2 + a0 * 0.5;
  for (int x = 0; x < width; ++x) {
    const int xin = coord(xo);
    if (xin >= 0 && xin < img.width) {
      xmax = x + 1;
      if (x < xmin) xmin = x;
      xintab[x] = xin;
    }
    xo += a0;
  }
  xmin = std::max(xmin, w.x);
  xmax = std::min(xmax, w.x + w.width);
  double yo = a5 + a4 * 0.5;
  for (int y = 0; y < w.y + w.height; ++y, yo += a4) {
    const int yi = coord(yo);
    if (y < w.y || yi < 0 || yi >= img.height) continue;
    const uint8_t* in = img.row(yi);
    uint8_t* o = out.row(y - w.y);
    for (int x = xmin; x < xmax; ++x)
      std::memcpy(o + size_t(x - w.x) * bpp, in + size_t(xintab[x]) * bpp, bpp);
  }
  return out;
}

// ImagingGenericTransform with the affine map and nearest_filter16 (Pillow's path for I;16):
// each output pixel maps its centre directly, without a running sum.
Image nearest_generic(const Image& img, int width, int height, const ResizeBox& b,
                      const Window& w) {
  Image out = blank_like(img, w.width, w.height);
  const size_t bpp = pixel_bytes(img.mode);
  const double a0 = double(b.x1 - b.x0) / width;
  const double a4 = double(b.y1 - b.y0) / height;
  const double a2 = b.x0, a5 = b.y0;
  for (int y = w.y; y < w.y + w.height; ++y) {
    const int yi = coord(0.0 * (0 + 0.5) + a4 * (y + 0.5) + a5);
    if (yi < 0 || yi >= img.height) continue;
    uint8_t* o = out.row(y - w.y);
    for (int x = w.x; x < w.x + w.width; ++x) {
      const int xi = coord(a0 * (x + 0.5) + 0.0 * (y + 0.5) + a2);
      if (xi >= 0 && xi < img.width)
        std::memcpy(o + size_t(x - w.x) * bpp, img.row(yi) + size_t(xi) * bpp, bpp);
    }
  }
  return out;
}

// ImagingResampleInner: horizontal pass over only the rows the vertical pass reads, then the
// vertical pass; either is skipped when its axis is unchanged. Only the window's columns and rows
// are produced.
Image resample_passes(const Image& img, int width, int height, Filter filter, const ResizeBox& b,
                      const Window& w,
                      detail::WeightsFlavor flavor = detail::WeightsFlavor::kPillow) {
  const bool need_h = width != img.width || b.x0 != 0 || b.x1 != float(width);
  const bool need_v = height != img.height || b.y0 != 0 || b.y1 != float(height);
  const int channels = img.channels();
  const size_t bpp = pixel_bytes(img.mode);
  const bool is_i = img.mode == Mode::kI, is_f = img.mode == Mode::kF;

  // Source rows the output window needs from the horizontal stage.
  std::shared_ptr<const detail::AxisCoeffs> vc;
  int row_first = w.y, row_last = w.y + w.height;
  if (need_v) {
    vc = detail::axis_coeffs(img.height, b.y0, b.y1, height, filter, flavor);
    row_first = vc->start[w.y];
    row_last = vc->start[w.y + w.height - 1] + vc->count[w.y + w.height - 1];
  }

  // The horizontal stage's result as a view: `base` is row `row_first`, column w.x.
  // The horizontal result goes straight to the output when there is no vertical pass; otherwise
  // to a per-thread scratch buffer reused across calls (a fresh multi-megabyte buffer per image
  // costs page faults and zeroing comparable to the resampling itself).
  Image tmp;
  const uint8_t* base;
  size_t stride;
  if (need_h) {
    const auto hc = detail::axis_coeffs(img.width, b.x0, b.x1, width, filter, flavor);
    const int rows = row_last - row_first;
    const size_t row_bytes = size_t(w.width) * bpp;
    uint8_t* hbuf;
    constexpr size_t kMaxScratch = size_t(32) << 20;
    thread_local std::vector<uint8_t> scratch;
    if (!need_v) {
      tmp = blank_like(img, w.width, rows);
      hbuf = tmp.pixels.data();
    } else if (row_bytes * rows <= kMaxScratch) {
      if (scratch.size() < row_bytes * rows) scratch.resize(row_bytes * rows);
      hbuf = scratch.data();
    } else {
      tmp = blank_like(img, w.width, rows);
      hbuf = tmp.pixels.data();
    }
    if (is_i) {
      detail::resample_h_i32(reinterpret_cast<const int32_t*>(img.row(row_first)), size_t(img.width),
                             rows, *hc, w.x, w.width, reinterpret_cast<int32_t*>(hbuf),
                             size_t(w.width));
    } else if (is_f) {
      detail::resample_h_f32(reinterpret_cast<const float*>(img.row(row_first)), size_t(img.width),
                             rows, *hc, w.x, w.width, reinterpret_cast<float*>(hbuf),
                             size_t(w.width));
    } else {
      detail::resample_h_u8(img.row(row_first), img.row_bytes(), rows, channels, *hc, w.x, w.width,
                            hbuf, row_bytes);
    }
    if (!need_v) return tmp;
    base = hbuf;
    stride = row_bytes;
  } else {
    if (!need_v) return crop_box(img, w.x, w.y, w.width, w.height);
    base = img.row(row_first) + size_t(w.x) * bpp;
    stride = img.row_bytes();
  }

  Image out = blank_like(img, w.width, w.height);
  const size_t sample_stride = stride / mode_sample_bytes(img.mode);
  if (is_i) {
    detail::resample_v_i32(reinterpret_cast<const int32_t*>(base), sample_stride, row_first,
                           w.width, *vc, w.y, w.height,
                           reinterpret_cast<int32_t*>(out.pixels.data()), size_t(w.width));
  } else if (is_f) {
    detail::resample_v_f32(reinterpret_cast<const float*>(base), sample_stride, row_first,
                           w.width, *vc, w.y, w.height,
                           reinterpret_cast<float*>(out.pixels.data()), size_t(w.width));
  } else {
    detail::resample_v_u8(base, stride, row_first, w.width * channels, *vc, w.y, w.height,
                          out.pixels.data(), out.row_bytes());
  }
  return out;
}

// _resize of _imaging.c: argument checks, the integer-box crop, NEAREST, or the resampler.
Image resize_core(const Image& img, int width, int height, Filter filter, const ResizeBox& b,
                  const Window& w) {
  CLIPKIT_CHECK(std::isfinite(b.x0) && std::isfinite(b.y0) && std::isfinite(b.x1) &&
                    std::isfinite(b.y1),
                "resize: box coordinates must be finite");
  CLIPKIT_CHECK(b.x0 >= 0 && b.y0 >= 0, "resize: box offset can't be negative (box ", b.x0, ",",
                b.y0, ",", b.x1, ",", b.y1, ")");
  CLIPKIT_CHECK(b.x1 <= float(img.width) && b.y1 <= float(img.height),
                "resize: box can't exceed original image size (box ", b.x0, ",", b.y0, ",", b.x1,
                ",", b.y1, " on a ", img.width, "x", img.height, " image)");
  CLIPKIT_CHECK(b.x1 - b.x0 >= 0 && b.y1 - b.y0 >= 0, "resize: box can't be empty (box ", b.x0,
                ",", b.y0, ",", b.x1, ",", b.y1, ")");
  if (b.x0 - float(int(b.x0)) == 0 && b.x1 - b.x0 == float(width) &&
      b.y0 - float(int(b.y0)) == 0 && b.y1 - b.y0 == float(height))
    return crop_box(img, int(b.x0) + w.x, int(b.y0) + w.y, w.width, w.height);
  if (filter == Filter::kNearest)
    return img.mode == Mode::kI16 ? nearest_generic(img, width, height, b, w)
                                  : nearest_scale(img, width, height, b, w);
  CLIPKIT_CHECK(img.mode != Mode::kI16, "resize: Pillow 9.4 cannot resample I;16 images with ",
                filter_name(filter), " (\"image has wrong mode\"); only nearest is supported");
  CLIPKIT_CHECK(img.mode != Mode::kP && img.mode != Mode::kOne,
                "resize: internal error: ", mode_name(img.mode), " reached the resampler");
  return resample_passes(img, width, height, filter, b, w);
}

// MULDIV255 of Pillow's ImagingUtils.h: a * b / 255 rounded, in integers.
inline uint8_t muldiv255(unsigned a, unsigned b) {
  const unsigned t = a * b + 128;
  return uint8_t(((t >> 8) + t) >> 8);
}

}  // namespace

Filter parse_filter(std::string_view name) {
  std::string s(name);
  for (char& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (s == "nearest") return Filter::kNearest;
  if (s == "box") return Filter::kBox;
  if (s == "bilinear" || s == "linear") return Filter::kBilinear;
  if (s == "hamming") return Filter::kHamming;
  if (s == "bicubic" || s == "cubic") return Filter::kBicubic;
  if (s == "lanczos" || s == "antialias") return Filter::kLanczos;
  fail("unknown resampling filter '", name,
       "' (expected nearest, box, bilinear, hamming, bicubic or lanczos)");
}

const char* filter_name(Filter f) {
  switch (f) {
    case Filter::kNearest: return "nearest";
    case Filter::kBox: return "box";
    case Filter::kBilinear: return "bilinear";
    case Filter::kHamming: return "hamming";
    case Filter::kBicubic: return "bicubic";
    case Filter::kLanczos: return "lanczos";
  }
  return "?";
}

namespace {

// Pillow's rgbA2rgba / lA2la. MULDIV255 stays below 2^16 at every step, so 16-bit lanes are exact.
template <int C>
void premultiply_rows(uint8_t* p, size_t n) {
  size_t i = 0;
#if defined(__AVX2__)
  constexpr int P = 32 / C;  // pixels per 32 bytes
  const __m256i amask = C == 4 ? _mm256_setr_epi8(3, 3, 3, 3, 7, 7, 7, 7, 11, 11, 11, 11, 15, 15,
                                                   15, 15, 3, 3, 3, 3, 7, 7, 7, 7, 11, 11, 11,
                                                   11, 15, 15, 15, 15)
                               : _mm256_setr_epi8(1, 1, 3, 3, 5, 5, 7, 7, 9, 9, 11, 11, 13, 13,
                                                  15, 15, 1, 1, 3, 3, 5, 5, 7, 7, 9, 9, 11, 11,
                                                  13, 13, 15, 15);
  // Bytes that hold alpha keep their value.
  const __m256i keep = C == 4 ? _mm256_set1_epi32(int32_t(0xff000000u)) : _mm256_set1_epi16(int16_t(0xff00));
  const __m256i zero = _mm256_setzero_si256(), r128 = _mm256_set1_epi16(128);
  for (; i + P <= n; i += P) {
    uint8_t* q = p + i * C;
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
    const __m256i a = _mm256_shuffle_epi8(v, amask);
    __m256i lo = _mm256_add_epi16(
        _mm256_mullo_epi16(_mm256_unpacklo_epi8(v, zero), _mm256_unpacklo_epi8(a, zero)), r128);
    __m256i hi = _mm256_add_epi16(
        _mm256_mullo_epi16(_mm256_unpackhi_epi8(v, zero), _mm256_unpackhi_epi8(a, zero)), r128);
    lo = _mm256_srli_epi16(_mm256_add_epi16(lo, _mm256_srli_epi16(lo, 8)), 8);
    hi = _mm256_srli_epi16(_mm256_add_epi16(hi, _mm256_srli_epi16(hi, 8)), 8);
    const __m256i r = _mm256_blendv_epi8(_mm256_packus_epi16(lo, hi), v, keep);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), r);
  }
#endif
  for (; i < n; ++i) {
    uint8_t* q = p + i * C;
    const unsigned a = q[C - 1];
    for (int ch = 0; ch < C - 1; ++ch) q[ch] = muldiv255(q[ch], a);
  }
}

// Pillow's rgba2rgbA / la2lA: c = min(255, 255 * c / a) for 0 < a < 255, as a table of all
// (a, c) pairs (integer division per sample would dominate the resize of a small image).
const uint8_t* unpremultiply_table() {
  static const std::vector<uint8_t> table = [] {
    std::vector<uint8_t> t(256 * 256);
    for (unsigned a = 0; a < 256; ++a)
      for (unsigned c = 0; c < 256; ++c) {
        const unsigned v = (a == 0 || a == 255) ? c : (255u * c) / a;
        t[a * 256 + c] = uint8_t(v > 255 ? 255 : v);
      }
    return t;
  }();
  return table.data();
}

}  // namespace

void premultiply_alpha(Image& img) {
  CLIPKIT_CHECK(img.mode == Mode::kRGBA || img.mode == Mode::kLA,
                "premultiply_alpha: mode ", mode_name(img.mode), " has no alpha to premultiply");
  const size_t n = size_t(img.width) * img.height;
  if (img.mode == Mode::kRGBA)
    premultiply_rows<4>(img.pixels.data(), n);
  else
    premultiply_rows<2>(img.pixels.data(), n);
}

void unpremultiply_alpha(Image& img) {
  CLIPKIT_CHECK(img.mode == Mode::kRGBA || img.mode == Mode::kLA,
                "unpremultiply_alpha: mode ", mode_name(img.mode), " has no alpha");
  const int c = img.channels();
  const uint8_t* table = unpremultiply_table();
  uint8_t* p = img.pixels.data();
  const size_t n = size_t(img.width) * img.height;
  for (size_t i = 0; i < n; ++i, p += c) {
    const uint8_t* row = table + size_t(p[c - 1]) * 256;
    for (int ch = 0; ch < c - 1; ++ch) p[ch] = row[p[ch]];
  }
}

Image resize_window(const Image& img, int width, int height, Filter filter, const ResizeBox* box,
                    const Window& window) {
  check_image(img);
  check_target(img, width, height);
  const Window& w = window;
  CLIPKIT_CHECK(w.width > 0 && w.height > 0 && w.x >= 0 && w.y >= 0 && w.x <= width - w.width &&
                    w.y <= height - w.height,
                "resize: window ", w.width, "x", w.height, "+", w.x, "+", w.y,
                " is empty or outside the ", width, "x", height, " result");
  const ResizeBox b = box ? *box : ResizeBox{0, 0, float(img.width), float(img.height)};
  if (width == img.width && height == img.height && b.x0 == 0 && b.y0 == 0 &&
      b.x1 == float(img.width) && b.y1 == float(img.height))
    return crop_box(img, w.x, w.y, w.width, w.height);
  if (img.mode == Mode::kOne || img.mode == Mode::kP) filter = Filter::kNearest;
  if ((img.mode == Mode::kRGBA || img.mode == Mode::kLA) && filter != Filter::kNearest) {
    Image pre = img;
    premultiply_alpha(pre);
    Image out = resize_core(pre, width, height, filter, b, w);
    unpremultiply_alpha(out);
    return out;
  }
  return resize_core(img, width, height, filter, b, w);
}

Image resize(const Image& img, int width, int height, Filter filter, const ResizeBox* box) {
  return resize_window(img, width, height, filter, box, Window{0, 0, width, height});
}

Image resize_torch_antialias(const Image& img, int width, int height, Filter filter,
                             const Window* window) {
  check_image(img);
  check_target(img, width, height);
  const Window w = window ? *window : Window{0, 0, width, height};
  CLIPKIT_CHECK(w.width > 0 && w.height > 0 && w.x >= 0 && w.y >= 0 && w.x <= width - w.width &&
                    w.y <= height - w.height,
                "resize: window ", w.width, "x", w.height, "+", w.x, "+", w.y,
                " is empty or outside the ", width, "x", height, " result");
  CLIPKIT_CHECK(filter == Filter::kBilinear || filter == Filter::kBicubic,
                "resize: torch's antialiased interpolation supports bilinear and bicubic, not ",
                filter_name(filter));
  CLIPKIT_CHECK(mode_sample_bytes(img.mode) == 1 && img.mode != Mode::kP &&
                    img.mode != Mode::kPA && img.mode != Mode::kOne,
                "resize: torch's uint8 interpolation needs an 8-bit image of samples, not mode ",
                mode_name(img.mode));
  if (width == img.width && height == img.height) return crop_box(img, w.x, w.y, w.width, w.height);
  const ResizeBox b{0, 0, float(img.width), float(img.height)};
  return resample_passes(img, width, height, filter, b, w, detail::WeightsFlavor::kTorchAA);
}

}  // namespace clipkit::image
