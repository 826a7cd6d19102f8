// EXIF orientation as Pillow 9.4's Image.getexif() finds it (read only; applying it is
// exif_transpose in exif_transpose.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace clipkit::image::detail {

// Orientation (tag 0x0112) of IFD0 of an EXIF block: a TIFF structure, optionally preceded by
// "Exif\0\0" (JPEG APP1, WebP EXIF). Returns nullopt when the block is not TIFF or has no
// readable orientation entry; otherwise the tag's first value as Pillow compares it with integers
// (0 when it is not a number, e.g. bytes or text), which may lie outside 1..8. Follows Pillow's
// reading: entries of unknown type or whose data run past the block are skipped, a later copy
// of a tag replaces an earlier one, and an IFD cut short keeps the entries read before the cut.
std::optional<int> exif_orientation_from_block(const uint8_t* data, size_t size);

// Pillow's XMP fallback for PNG (used when EXIF has no orientation): the first match of
// tiff:Orientation="<digit> or tiff:Orientation><digit>. Returns the digit or 0.
int xmp_orientation(std::string_view xmp);

// Pillow reads the orientation only to transpose by 2..8; any other value is stored as 1.
inline int normalize_orientation(int o) { return o >= 1 && o <= 8 ? o : 1; }

}  // namespace clipkit::image::detail
