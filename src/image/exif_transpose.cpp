// Pillow's ImageOps.exif_transpose: orientation 2..8 maps to one of Image.transpose's seven
// operations; 1 (or anything else) returns a copy. Works on every mode, since it only moves whole
// pixels of img.channels() * sample_bytes bytes.
#include <cstring>

#include "core/error.h"
#include "image/decode.h"

namespace clipkit::image {
namespace {

// Output pixel (x, y) shows source pixel (sx, sy) = (x0 + x*dxx + y*dxy, y0 + x*dyx + y*dyy).
struct Map {
  long x0, y0, dxx, dxy, dyx, dyy;
};

Map map_for(int o, long w, long h) {
  switch (o) {
    case 2: return {w - 1, 0, -1, 0, 0, 1};          // FLIP_LEFT_RIGHT
    case 3: return {w - 1, h - 1, -1, 0, 0, -1};     // ROTATE_180
    case 4: return {0, h - 1, 1, 0, 0, -1};          // FLIP_TOP_BOTTOM
    case 5: return {0, 0, 0, 1, 1, 0};               // TRANSPOSE
    case 6: return {0, h - 1, 0, 1, -1, 0};          // ROTATE_270 (90 degrees clockwise)
    case 7: return {w - 1, h - 1, 0, -1, -1, 0};     // TRANSVERSE
    default: return {w - 1, 0, 0, -1, 1, 0};         // 8: ROTATE_90 (counter-clockwise)
  }
}

// The pixel size is a template parameter so that each copy is a fixed-size move.
template <size_t PX>
void remap(const uint8_t* src, long w, uint8_t* dst, long ow, long oh, const Map& m, size_t px_dyn) {
  const size_t px = PX ? PX : px_dyn;
  const long step = (m.dxx + m.dyx * w) * long(px);
  for (long y = 0; y < oh; ++y) {
    const uint8_t* s = src + ((m.y0 + y * m.dyy) * w + (m.x0 + y * m.dxy)) * long(px);
    uint8_t* d = dst + size_t(y) * size_t(ow) * px;
    for (long x = 0; x < ow; ++x, s += step, d += px) std::memcpy(d, s, PX ? PX : px_dyn);
  }
}

}  // namespace

Image exif_transpose(const Image& img) {
  const size_t px = size_t(img.channels()) * mode_sample_bytes(img.mode);
  const size_t w = size_t(img.width), h = size_t(img.height);
  CLIPKIT_CHECK(img.width >= 0 && img.height >= 0 && img.pixels.size() == w * h * px,
                "exif_transpose: ", mode_name(img.mode), " image ", img.width, "x", img.height,
                " holds ", img.pixels.size(), " bytes, expected ", w * h * px);
  Image out = img;
  out.exif_orientation = 1;
  const int o = img.exif_orientation;
  if (o < 2 || o > 8 || w == 0 || h == 0) return out;
  // Orientations 5..8 swap the axes.
  const bool swap = o >= 5;
  const long ow = long(swap ? h : w), oh = long(swap ? w : h);
  out.width = int(ow);
  out.height = int(oh);
  const Map m = map_for(o, long(w), long(h));
  const uint8_t* s = img.pixels.data();
  uint8_t* d = out.pixels.data();
  switch (px) {
    case 1: remap<1>(s, long(w), d, ow, oh, m, px); break;
    case 2: remap<2>(s, long(w), d, ow, oh, m, px); break;
    case 3: remap<3>(s, long(w), d, ow, oh, m, px); break;
    case 4: remap<4>(s, long(w), d, ow, oh, m, px); break;
    default: remap<0>(s, long(w), d, ow, oh, m, px); break;
  }
  return out;
}

}  // namespace clipkit::image
