// Decoding image files into Pillow's modes, pixel-identical to what Pillow 9.4 returns from
// Image.open(path) (first frame for animations). Decoding never applies EXIF orientation; it
// records it in Image::exif_orientation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "image/image.h"

namespace clipkit::image {

struct DecodeOptions {
  // Decompression-bomb guard: images with more pixels than this are refused before their pixel
  // data is decoded (Pillow errors at twice its MAX_IMAGE_PIXELS of 89,478,485). 0 = no limit.
  uint64_t max_pixels = 2ull * 89478485ull;
};

// Decodes a file; the format is sniffed from its content, not its name. Throws clipkit::Error
// naming the path and what is wrong (missing, truncated, corrupt, unsupported, too large).
Image decode_file(const std::string& path, const DecodeOptions& opts = {});
// Decodes an in-memory file; `label` names it in errors.
Image decode_memory(const uint8_t* data, size_t size, const std::string& label,
                    const DecodeOptions& opts = {});

// Pillow's convert("RGB") for every mode in image.h (alpha dropped, not composited; CMYK with
// Pillow's formula; I;16 / I / F clipped to 0..255).
Image convert_to_rgb(const Image& img);
// Pillow's ImageOps.exif_transpose: applies img.exif_orientation and resets it to 1.
Image exif_transpose(const Image& img);

}  // namespace clipkit::image
