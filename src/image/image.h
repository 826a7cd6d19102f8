// A decoded image in one of Pillow's modes, stored as interleaved 8-bit (or wider) samples.
// Preprocessing follows Pillow's order of operations, so an image keeps the mode of its file until
// the reference would convert it: resampling is done in the file's own mode (RGBA and LA with
// premultiplied alpha, P and 1 with nearest neighbour), then convert("RGB").
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace clipkit::image {

// Pillow's image modes that clipkit decodes into.
enum class Mode : uint8_t {
  kOne,   // "1": bilevel, one byte per pixel holding 0 or 255 (as Pillow stores it)
  kL,     // "L": 8-bit grey
  kLA,    // "LA": grey + alpha
  kP,     // "P": 8-bit palette index (palette holds RGB entries)
  kPA,    // "PA": palette index + alpha
  kRGB,   // "RGB"
  kRGBA,  // "RGBA"
  kCMYK,  // "CMYK" (already un-inverted for Adobe JPEGs, as Pillow returns it)
  kI16,   // "I;16": 16-bit unsigned grey, native-endian uint16 samples
  kI,     // "I": 32-bit signed grey, int32 samples
  kF,     // "F": 32-bit float grey
};

const char* mode_name(Mode m);
// Channels per pixel of the mode (1 for P: the palette index).
int mode_channels(Mode m);
// Bytes per channel sample (1, 2 or 4).
int mode_sample_bytes(Mode m);

struct Image {
  int width = 0;
  int height = 0;
  Mode mode = Mode::kRGB;
  // Row-major interleaved samples, height * width * channels * sample_bytes bytes, no padding.
  std::vector<uint8_t> pixels;
  // For P and PA: the palette as RGBA quadruples (Pillow keeps transparency separately; here it
  // lives in the alpha of each entry, 255 when the file has none). Up to 256 entries.
  std::vector<std::array<uint8_t, 4>> palette;
  // PNG tRNS for P images: whether the palette carries transparency. RGB/L tRNS colour keys are
  // not represented (Pillow ignores them on convert("RGB") too).
  bool palette_has_alpha = false;
  // EXIF orientation tag (1..8), 1 when absent. Decoding never applies it.
  int exif_orientation = 1;
  // Short name of the container ("JPEG", "PNG", ...), for messages and `info`.
  std::string format;

  int channels() const { return mode_channels(mode); }
  size_t row_bytes() const { return size_t(width) * channels() * mode_sample_bytes(mode); }
  uint8_t* row(int y) { return pixels.data() + size_t(y) * row_bytes(); }
  const uint8_t* row(int y) const { return pixels.data() + size_t(y) * row_bytes(); }
};

}  // namespace clipkit::image
