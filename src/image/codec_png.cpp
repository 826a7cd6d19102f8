// PNG through libpng, into the modes of Pillow 9.4's PngImagePlugin:
//   grey 1 -> "1" (0/255), grey 2/4 -> L (scaled by 0x55 / 0x11), grey 8 -> L, grey 16 -> I,
//   grey+alpha 8 -> LA, grey+alpha 16 -> RGBA (high bytes), RGB 8/16 -> RGB (high bytes),
//   RGBA 8/16 -> RGBA (high bytes), palette 1/2/4/8 -> P with the PLTE entries and tRNS alpha.
// A tRNS colour key on grey or RGB images leaves the mode unchanged, as in Pillow.
//
// Chunk-level checks follow Pillow rather than libpng: the CRC of every chunk before the first
// IDAT is verified, IDAT CRCs are not (libpng is told to ignore CRCs; the walk in png_chunks.cpp
// does the checking). Errors inside libpng longjmp back into the setjmp frames below, which hold
// only trivially destructible locals; the reader object frees libpng's state on every path.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "image/codec_common.h"
#include "image/codec_png_chunks.h"

namespace clipkit::image::detail {
namespace {

struct PngReader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
  char message[256] = {};

  PngReader(const uint8_t* d, size_t n) : data(d), size(n) {}
  ~PngReader() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;
};

void on_error(png_structp png, png_const_charp msg) {
  auto* r = static_cast<PngReader*>(png_get_error_ptr(png));
  if (r->message[0] == '\0') std::snprintf(r->message, sizeof r->message, "%s", msg);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

void on_read(png_structp png, png_bytep out, size_t n) {
  auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
  if (n > r->size - r->pos) {
    std::snprintf(r->message, sizeof r->message,
                  "file truncated: image data ends after %zu bytes", r->size);
    png_error(png, r->message);
  }
  std::memcpy(out, r->data + r->pos, n);
  r->pos += n;
}

struct PngHeader {
  png_uint_32 width, height;
  int bit_depth, color_type, interlace;
};

// setjmp frames: only trivially destructible locals, nothing read after longjmp.
bool read_info(PngReader* r, PngHeader* h) {
  if (setjmp(png_jmpbuf(r->png))) return false;
  png_set_read_fn(r->png, r, on_read);
  // Pillow has no per-side limit (only the pixel-count bomb guard, checked by the caller).
  png_set_user_limits(r->png, 0x7fffffff, 0x7fffffff);
  png_set_crc_action(r->png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
  // Metadata is read by scan_png_chunks; libpng skips these chunks instead of inflating them
  // (no text or ICC decompression bombs inside libpng).
  static const png_byte kSkipped[] = "tEXt\0zTXt\0iTXt\0iCCP\0eXIf\0sPLT\0";
  png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_NEVER, kSkipped, 6);
  png_read_info(r->png, r->info);
  png_get_IHDR(r->png, r->info, &h->width, &h->height, &h->bit_depth, &h->color_type,
               &h->interlace, nullptr, nullptr);
  return true;
}

bool read_rows(PngReader* r, bool unpack, png_bytepp rows, size_t expected_row_bytes) {
  if (setjmp(png_jmpbuf(r->png))) return false;
  if (unpack) png_set_packing(r->png);
  png_set_interlace_handling(r->png);
  png_read_update_info(r->png, r->info);
  if (png_get_rowbytes(r->png, r->info) != expected_row_bytes) {
    std::snprintf(r->message, sizeof r->message, "unexpected row size");
    return false;
  }
  png_read_image(r->png, rows);
  return true;
}

uint8_t gray_scale_for_depth(int bit_depth) {
  switch (bit_depth) {
    case 1: return 255;
    case 2: return 0x55;
    case 4: return 0x11;
    default: return 1;
  }
}

// Converts 16-bit big-endian rows (as libpng delivers them) into the Pillow mode.
void convert_16bit(const std::vector<uint8_t>& raw, int color_type, Image& img) {
  const size_t n = size_t(img.width) * img.height;
  const uint8_t* s = raw.data();
  uint8_t* d = img.pixels.data();
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: {  // "I;16B" -> I (int32)
      for (size_t i = 0; i < n; ++i) {
        const int32_t v = int32_t(s[2 * i]) << 8 | s[2 * i + 1];
        std::memcpy(d + 4 * i, &v, 4);
      }
      break;
    }
    case PNG_COLOR_TYPE_GRAY_ALPHA:  // "LA;16B" -> RGBA
      for (size_t i = 0; i < n; ++i) {
        d[4 * i] = d[4 * i + 1] = d[4 * i + 2] = s[4 * i];
        d[4 * i + 3] = s[4 * i + 2];
      }
      break;
    default: {  // RGB / RGBA: the high byte of every sample
      const size_t samples = n * img.channels();
      for (size_t i = 0; i < samples; ++i) d[i] = s[2 * i];
    }
  }
}

}  // namespace

Image decode_png(const Source& s) {
  // Pillow's chunk walk: CRCs and layout before IDAT, metadata (EXIF, XMP) from every chunk.
  const PngChunkInfo chunks = scan_png_chunks(s);

  PngReader r(s.data, s.size);
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_error, on_warning);
  if (r.png) r.info = png_create_info_struct(r.png);
  if (!r.png || !r.info) fail_at(s, "PNG", "cannot initialise libpng");

  PngHeader h{};
  if (!read_info(&r, &h)) fail_at(s, "PNG", r.message, " (at byte ", r.pos, ")");

  Image img;
  img.format = "PNG";
  const bool wide = h.bit_depth == 16;
  switch (h.color_type) {
    case PNG_COLOR_TYPE_GRAY:
      img.mode = h.bit_depth == 1 ? Mode::kOne : wide ? Mode::kI : Mode::kL;
      break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: img.mode = wide ? Mode::kRGBA : Mode::kLA; break;
    case PNG_COLOR_TYPE_RGB: img.mode = Mode::kRGB; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: img.mode = Mode::kRGBA; break;
    case PNG_COLOR_TYPE_PALETTE: img.mode = Mode::kP; break;
    default: fail_at(s, "PNG", "unsupported colour type ", h.color_type);
  }
  check_dimensions(s, "PNG", h.width, h.height);
  img.width = int(h.width);
  img.height = int(h.height);
  img.exif_orientation = chunks.orientation;

  if (img.mode == Mode::kP) {
    png_colorp plte = nullptr;
    int n_plte = 0;
    if (png_get_PLTE(r.png, r.info, &plte, &n_plte) != PNG_INFO_PLTE || n_plte <= 0)
      fail_at(s, "PNG", "palette image without a PLTE chunk");
    img.palette.resize(size_t(n_plte));
    for (int i = 0; i < n_plte; ++i)
      img.palette[i] = {plte[i].red, plte[i].green, plte[i].blue, 255};
    png_bytep trns = nullptr;
    int n_trns = 0;
    if (png_get_tRNS(r.png, r.info, &trns, &n_trns, nullptr) == PNG_INFO_tRNS && trns) {
      img.palette_has_alpha = true;
      for (int i = 0; i < n_trns && i < n_plte; ++i) img.palette[i][3] = trns[i];
    }
  }

  // Sub-byte samples are unpacked to one byte each (palette indices stay indices); 16-bit rows
  // are read raw and converted afterwards; everything else lands directly in img.pixels.
  const int png_channels = png_get_channels(r.png, r.info);
  const size_t raw_row = size_t(img.width) * png_channels * (wide ? 2 : 1);
  allocate_pixels(img);
  std::vector<uint8_t> raw;
  uint8_t* target = img.pixels.data();
  if (wide) {
    raw.resize(raw_row * img.height);
    target = raw.data();
  }
  std::vector<png_bytep> rows(size_t(img.height));
  for (int y = 0; y < img.height; ++y) rows[y] = target + size_t(y) * raw_row;
  if (!read_rows(&r, h.bit_depth < 8, rows.data(), raw_row)) fail_at(s, "PNG", r.message, " (at byte ", r.pos, ")");

  if (wide) {
    convert_16bit(raw, h.color_type, img);
  } else if (h.color_type == PNG_COLOR_TYPE_GRAY && h.bit_depth < 8) {
    const uint8_t k = gray_scale_for_depth(h.bit_depth);
    for (uint8_t& v : img.pixels) v = uint8_t(v * k);
  }
  return img;
}

}  // namespace clipkit::image::detail
