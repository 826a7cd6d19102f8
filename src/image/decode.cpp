// Format sniffing and the entry points of decode.h. The format is recognised from the leading
// bytes exactly as Pillow's plugins accept them (their _accept functions), never from the name.
#include "image/decode.h"

#include <cstdio>
#include <cstring>
#include <new>

#include "core/mapped_file.h"
#include "image/codec_common.h"

namespace clipkit::image {
namespace detail {

void check_dimensions(const Source& src, const char* format, uint64_t width, uint64_t height) {
  if (width == 0 || height == 0)
    fail_at(src, format, "invalid image size ", width, "x", height, " in header");
  // Pillow's own limit on either side is a C int; anything wider is certainly corrupt.
  constexpr uint64_t kMaxSide = 0x7fffffffull;
  if (width > kMaxSide || height > kMaxSide)
    fail_at(src, format, "image size ", width, "x", height, " in header is too large");
  const uint64_t pixels = width * height;
  if (src.opts.max_pixels != 0 && pixels > src.opts.max_pixels)
    fail_at(src, format, "image size ", width, "x", height, " (", pixels,
            " pixels) exceeds the limit of ", src.opts.max_pixels,
            " pixels (decompression bomb guard; DecodeOptions::max_pixels)");
  // 16 bytes per pixel is the widest intermediate any decoder allocates (RGBA at 32 bits).
  if (pixels > (uint64_t(SIZE_MAX) >> 5))
    fail_at(src, format, "image size ", width, "x", height, " cannot be addressed in memory");
}

void allocate_pixels(Image& img) {
  img.pixels.assign(size_t(img.height) * img.row_bytes(), 0);
}

}  // namespace detail

namespace {

using detail::Source;

bool starts_with(const uint8_t* d, size_t n, const char* magic, size_t m) {
  return n >= m && std::memcmp(d, magic, m) == 0;
}

bool is_heif(const uint8_t* d, size_t n) {
  if (n < 12 || std::memcmp(d + 4, "ftyp", 4) != 0) return false;
  static const char* const kBrands[] = {"heic", "heix", "hevc", "hevx", "heim", "heis",
                                        "mif1", "msf1", "avif", "avis"};
  for (const char* b : kBrands)
    if (std::memcmp(d + 8, b, 4) == 0) return true;
  return false;
}

std::string hex_prefix(const uint8_t* d, size_t n) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < n && i < 8; ++i) {
    std::snprintf(buf, sizeof buf, i ? " %02x" : "%02x", d[i]);
    s += buf;
  }
  return s;
}

Image dispatch(const Source& src) {
  const uint8_t* d = src.data;
  const size_t n = src.size;
  if (n == 0) fail(src.label, ": empty file, not an image");
  if (starts_with(d, n, "\xFF\xD8\xFF", 3)) return detail::decode_jpeg(src);
  if (starts_with(d, n, "\x89PNG\r\n\x1a\n", 8)) return detail::decode_png(src);
  if (starts_with(d, n, "GIF87a", 6) || starts_with(d, n, "GIF89a", 6)) return detail::decode_gif(src);
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0)
    return detail::decode_webp(src);
  if (starts_with(d, n, "BM", 2)) return detail::decode_bmp(src);
  if (starts_with(d, n, "II*\0", 4) || starts_with(d, n, "MM\0*", 4) ||
      starts_with(d, n, "II+\0", 4) || starts_with(d, n, "MM\0+", 4))
    return detail::decode_tiff(src);
  if (is_heif(d, n)) return detail::decode_heif(src);
  fail(src.label, ": unknown image format (", n, " bytes, starting with ", hex_prefix(d, n), ")");
}

}  // namespace

Image decode_memory(const uint8_t* data, size_t size, const std::string& label,
                    const DecodeOptions& opts) {
  const Source src{data, size, label, opts};
  try {
    return dispatch(src);
  } catch (const std::bad_alloc&) {
    fail(label, ": out of memory while decoding");
  } catch (const std::length_error&) {
    fail(label, ": out of memory while decoding");
  }
}

Image decode_file(const std::string& path, const DecodeOptions& opts) {
  const auto file = MappedFile::open(path);
  return decode_memory(file->data(), file->size(), path, opts);
}

}  // namespace clipkit::image
