// libFuzzer target: any byte string must decode to a consistent image or throw clipkit::Error.
// Seeds: tests/data/images, tests/data/images_extra/gen (every format and layout).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "image/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace clipkit::image;
  DecodeOptions opts;
  opts.max_pixels = 1u << 22;  // keeps each input's memory bounded; the guard itself is exercised
  try {
    const Image img = decode_memory(data, size, "fuzz", opts);
    if (img.width <= 0 || img.height <= 0 || img.pixels.size() != size_t(img.height) * img.row_bytes()) abort();
    if (uint64_t(img.width) * uint64_t(img.height) > opts.max_pixels) abort();
    if ((img.mode == Mode::kP || img.mode == Mode::kPA) && img.palette.size() > 256) abort();
    const Image rgb = convert_to_rgb(img);
    if (rgb.pixels.size() != size_t(img.width) * img.height * 3) abort();
    const Image t = exif_transpose(img);
    if (t.pixels.size() != img.pixels.size()) abort();
  } catch (const clipkit::Error&) {
  }
  return 0;
}
