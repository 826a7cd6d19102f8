// Pillow 9.4's Image.convert("RGB") for every mode in image.h, with its integer arithmetic
// (libImaging/Convert.c). Modes without a direct converter go through Pillow's fallback of
// converting to the base mode "L" first: I;16 -> L saturates at 255 (any high byte gives 255),
// F -> L clips to 0..255 and truncates toward zero. Alpha is dropped, never composited.
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "image/decode.h"

namespace clipkit::image {
namespace {

// Pillow's MULDIV255: a * b / 255 rounded, in integers.
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

inline uint8_t clip8(int v) { return uint8_t(v <= 0 ? 0 : v >= 255 ? 255 : v); }

inline uint8_t float_to_l(float v) {
  if (v <= 0.0f) return 0;
  if (v >= 255.0f) return 255;
  if (std::isnan(v)) return 0;  // x86 cvttss2si of NaN gives 0x80000000, whose low byte is 0
  return uint8_t(v);
}

// The colour of palette entry `index`. Pillow's palette has 256 entries; those the file did not
// define keep the initial grey ramp (index, index, index).
struct PaletteLut {
  uint8_t rgb[256][3];
  explicit PaletteLut(const Image& img) {
    for (int i = 0; i < 256; ++i) rgb[i][0] = rgb[i][1] = rgb[i][2] = uint8_t(i);
    const size_t n = img.palette.size() < 256 ? img.palette.size() : 256;
    for (size_t i = 0; i < n; ++i)
      for (int c = 0; c < 3; ++c) rgb[i][c] = img.palette[i][c];
  }
};

}  // namespace

Image convert_to_rgb(const Image& img) {
  const size_t n = size_t(img.width) * size_t(img.height);
  const size_t expected = n * img.channels() * mode_sample_bytes(img.mode);
  CLIPKIT_CHECK(img.width >= 0 && img.height >= 0 && img.pixels.size() == expected,
                "convert_to_rgb: ", mode_name(img.mode), " image ", img.width, "x", img.height,
                " holds ", img.pixels.size(), " bytes, expected ", expected);
  Image out;
  out.width = img.width;
  out.height = img.height;
  out.mode = Mode::kRGB;
  out.exif_orientation = img.exif_orientation;
  out.format = img.format;
  if (img.mode == Mode::kRGB) {
    out.pixels = img.pixels;
    return out;
  }
  out.pixels.resize(n * 3);
  const uint8_t* s = img.pixels.data();
  uint8_t* d = out.pixels.data();
  auto put = [d](size_t i, uint8_t r, uint8_t g, uint8_t b) {
    d[3 * i] = r;
    d[3 * i + 1] = g;
    d[3 * i + 2] = b;
  };
  switch (img.mode) {
    case Mode::kOne:
      for (size_t i = 0; i < n; ++i) {
        const uint8_t v = s[i] ? 255 : 0;
        put(i, v, v, v);
      }
      break;
    case Mode::kL:
      for (size_t i = 0; i < n; ++i) put(i, s[i], s[i], s[i]);
      break;
    case Mode::kLA:
      for (size_t i = 0; i < n; ++i) put(i, s[2 * i], s[2 * i], s[2 * i]);
      break;
    case Mode::kP:
    case Mode::kPA: {
      const PaletteLut lut(img);
      const int step = img.mode == Mode::kPA ? 2 : 1;
      for (size_t i = 0; i < n; ++i) {
        const uint8_t* c = lut.rgb[s[step * i]];
        put(i, c[0], c[1], c[2]);
      }
      break;
    }
    case Mode::kRGBA:
      for (size_t i = 0; i < n; ++i) put(i, s[4 * i], s[4 * i + 1], s[4 * i + 2]);
      break;
    case Mode::kCMYK:
      for (size_t i = 0; i < n; ++i) {
        const uint8_t* p = s + 4 * i;
        const int nk = 255 - p[3];
        put(i, clip8(nk - muldiv255(p[0], nk)), clip8(nk - muldiv255(p[1], nk)),
            clip8(nk - muldiv255(p[2], nk)));
      }
      break;
    case Mode::kI16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, s + 2 * i, 2);
        const uint8_t l = v > 255 ? 255 : uint8_t(v);
        put(i, l, l, l);
      }
      break;
    case Mode::kI:
      for (size_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, s + 4 * i, 4);
        const uint8_t l = v <= 0 ? 0 : v >= 255 ? 255 : uint8_t(v);
        put(i, l, l, l);
      }
      break;
    case Mode::kF:
      for (size_t i = 0; i < n; ++i) {
        float v;
        std::memcpy(&v, s + 4 * i, 4);
        const uint8_t l = float_to_l(v);
        put(i, l, l, l);
      }
      break;
    case Mode::kRGB:
      break;
  }
  return out;
}

}  // namespace clipkit::image
