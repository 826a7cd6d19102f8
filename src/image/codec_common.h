// Internal interface between the format sniffer (decode.cpp) and the per-format decoders
// (codec_<format>.cpp). Every decoder receives the whole file in memory and either returns an
// Image in the mode Pillow 9.4 would open it in, or throws clipkit::Error through fail_at().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "image/decode.h"

namespace clipkit::image::detail {

struct Source {
  const uint8_t* data;
  size_t size;
  const std::string& label;  // names the file in every message
  const DecodeOptions& opts;
};

// Throws Error "<label>: <format>: <parts...>".
template <typename... Args>
[[noreturn]] void fail_at(const Source& src, const char* format, const Args&... args) {
  fail(src.label, ": ", format, ": ", args...);
}

// Validates header dimensions before any pixel buffer exists: both positive, within Pillow's
// decompression-bomb limit (opts.max_pixels) and small enough that width * height * bytes_per_pixel
// cannot overflow. Throws naming the format and the dimensions.
void check_dimensions(const Source& src, const char* format, uint64_t width, uint64_t height);

// Allocates img.pixels for img.width x img.height in img.mode (after check_dimensions).
void allocate_pixels(Image& img);

Image decode_jpeg(const Source& src);
Image decode_png(const Source& src);
Image decode_gif(const Source& src);
Image decode_webp(const Source& src);
Image decode_bmp(const Source& src);
Image decode_tiff(const Source& src);
// HEIC / AVIF (ISO-BMFF 'ftyp' brands); throws "not supported in this build" without libheif.
Image decode_heif(const Source& src);

}  // namespace clipkit::image::detail
