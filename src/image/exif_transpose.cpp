// Pillow's ImageOps.exif_transpose: orientation 2..8 maps to one of Image.transpose's seven
// operations; 1 (or anything else) returns a copy. Works on every mode, since it only moves whole
// pixels of img.channels() * sample_bytes bytes.
#include <cstring>

#include "core/error.h"
#include "image/decode.h"

namespace clipkit::image {

Image exif_transpose(const Image& img) {
  const size_t px = size_t(img.channels()) * mode_sample_bytes(img.mode);
  const size_t w = size_t(img.width), h = size_t(img.height);
  CLIPKIT_CHECK(img.width >= 0 && img.height >= 0 && img.pixels.size() == w * h * px,
                "exif_transpose: ", mode_name(img.mode), " image ", img.width, "x", img.height,
                " holds ", img.pixels.size(), " bytes, expected ", w * h * px);
  Image out = img;
  out.exif_orientation = 1;
  const int o = img.exif_orientation;
  if (o < 2 || o > 8) return out;
  // Orientations 5..8 swap the axes (TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90).
  const bool swap = o >= 5;
  const size_t ow = swap ? h : w, oh = swap ? w : h;
  out.width = int(ow);
  out.height = int(oh);
  const uint8_t* s = img.pixels.data();
  uint8_t* d = out.pixels.data();
  for (size_t y = 0; y < oh; ++y) {
    for (size_t x = 0; x < ow; ++x) {
      // Source pixel (sx, sy) shown at output (x, y).
      size_t sx, sy;
      switch (o) {
        case 2: sx = w - 1 - x; sy = y; break;            // FLIP_LEFT_RIGHT
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;    // ROTATE_180
        case 4: sx = x; sy = h - 1 - y; break;            // FLIP_TOP_BOTTOM
        case 5: sx = y; sy = x; break;                    // TRANSPOSE
        case 6: sx = y; sy = h - 1 - x; break;            // ROTATE_270 (clockwise 90)
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;    // TRANSVERSE
        default: sx = w - 1 - y; sy = x; break;           // 8: ROTATE_90 (counter-clockwise)
      }
      std::memcpy(d + (y * ow + x) * px, s + (sy * w + sx) * px, px);
    }
  }
  return out;
}

}  // namespace clipkit::image
