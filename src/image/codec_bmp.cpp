// Windows BMP, parsed the way Pillow 9.4's BmpImagePlugin does (it is Pillow's own Python code,
// not a library): headers of 12 (OS/2), 40, 64, 108 and 124 bytes; 1/4/8-bit palette images are
// "P", or "1" / "L" when the palette is black-white or the identity grey ramp; 16-bit is
// BGR;15 (or 5-6-5 with BITFIELDS), 24-bit BGR, 32-bit BGRX -> RGB (alpha ignored) unless
// BITFIELDS names an alpha mask -> RGBA; RLE8/RLE4 follow Pillow's decoder step by step, including
// its quirks (absolute runs are not clipped, the pad byte is found from the absolute file offset).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "image/codec_common.h"

namespace clipkit::image::detail {
namespace {

constexpr const char* kFmt = "BMP";

uint32_t le16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }
uint32_t le32(const uint8_t* p) { return le16(p) | le16(p + 2) << 16; }

enum class Raw { kP1, kP4, kP8, kOne, kL, kBGR15, kBGR16, kBGR, kBGRX, kXBGR, kABGR, kRGBA, kBGRA };

int raw_bits(Raw r) {
  switch (r) {
    case Raw::kP1: case Raw::kOne: return 1;
    case Raw::kP4: return 4;
    case Raw::kP8: case Raw::kL: return 8;
    case Raw::kBGR15: case Raw::kBGR16: return 16;
    case Raw::kBGR: return 24;
    default: return 32;
  }
}

struct Header {
  uint32_t header_size = 0, width = 0, height = 0, bits = 0, compression = 0;
  uint64_t colors = 0;
  uint32_t masks[4] = {0, 0, 0, 0};  // r, g, b, a
  int padding = 4;
  bool top_down = false;
};

// Unpacks one row of `width` pixels from `in` into `out` (mode samples), Pillow's unpackers.
void unpack_row(Raw raw, const uint8_t* in, uint8_t* out, size_t width) {
  auto scale = [](uint32_t v, uint32_t max) { return uint8_t(v * 255 / max); };
  for (size_t x = 0; x < width; ++x) {
    switch (raw) {
      case Raw::kP1: out[x] = (in[x >> 3] >> (7 - (x & 7))) & 1; break;
      case Raw::kOne: out[x] = ((in[x >> 3] >> (7 - (x & 7))) & 1) ? 255 : 0; break;
      case Raw::kP4: out[x] = (x & 1) ? in[x >> 1] & 15 : in[x >> 1] >> 4; break;
      case Raw::kP8: case Raw::kL: out[x] = in[x]; break;
      case Raw::kBGR15: case Raw::kBGR16: {
        const uint32_t v = le16(in + 2 * x);
        uint8_t* o = out + 3 * x;
        o[2] = scale(v & 31, 31);
        if (raw == Raw::kBGR15) {
          o[1] = scale((v >> 5) & 31, 31);
          o[0] = scale((v >> 10) & 31, 31);
        } else {
          o[1] = scale((v >> 5) & 63, 63);
          o[0] = scale((v >> 11) & 31, 31);
        }
        break;
      }
      case Raw::kBGR: {
        const uint8_t* i = in + 3 * x;
        uint8_t* o = out + 3 * x;
        o[0] = i[2]; o[1] = i[1]; o[2] = i[0];
        break;
      }
      case Raw::kBGRX: case Raw::kXBGR: {
        const uint8_t* i = in + 4 * x;
        uint8_t* o = out + 3 * x;
        const int k = raw == Raw::kXBGR ? 1 : 0;
        o[0] = i[2 + k]; o[1] = i[1 + k]; o[2] = i[0 + k];
        break;
      }
      case Raw::kABGR: case Raw::kRGBA: case Raw::kBGRA: {
        const uint8_t* i = in + 4 * x;
        uint8_t* o = out + 4 * x;
        if (raw == Raw::kABGR) { o[0] = i[3]; o[1] = i[2]; o[2] = i[1]; o[3] = i[0]; }
        else if (raw == Raw::kRGBA) { std::memcpy(o, i, 4); }
        else { o[0] = i[2]; o[1] = i[1]; o[2] = i[0]; o[3] = i[3]; }
        break;
      }
    }
  }
}

Header read_header(const Source& s, size_t& pos) {
  Header h;
  if (s.size < 18) fail_at(s, kFmt, "file truncated in the header (", s.size, " bytes)");
  h.header_size = le32(s.data + 14);
  pos = 18;
  const uint64_t body = h.header_size >= 4 ? h.header_size - 4 : 0;
  if (body > s.size - pos) fail_at(s, kFmt, "file truncated in the ", h.header_size, "-byte info header");
  const uint8_t* hd = s.data + pos;
  pos += size_t(body);
  if (h.header_size == 12) {
    h.width = le16(hd);
    h.height = le16(hd + 2);
    h.bits = le16(hd + 6);
    h.padding = 3;
  } else if (h.header_size == 40 || h.header_size == 64 || h.header_size == 108 || h.header_size == 124) {
    h.top_down = hd[7] == 0xFF;
    h.width = le32(hd);
    h.height = h.top_down ? uint32_t(0) - le32(hd + 4) : le32(hd + 4);
    h.bits = le16(hd + 10);
    h.compression = le32(hd + 12);
    h.colors = le32(hd + 28);
    if (h.compression == 3) {
      if (body >= 52) {
        for (int i = 0; i < 4; ++i) h.masks[i] = le32(hd + 36 + 4 * i);
      } else {
        if (s.size - pos < 12) fail_at(s, kFmt, "file truncated in the bit masks at byte ", pos);
        for (int i = 0; i < 3; ++i) h.masks[i] = le32(s.data + pos + 4 * i);
        pos += 12;
      }
    }
  } else {
    fail_at(s, kFmt, "unsupported BMP header type (", h.header_size, " bytes)");
  }
  return h;
}

// Pillow's BmpRleDecoder, then its raw unpacking of the result ("P" or "L", one byte per pixel).
std::vector<uint8_t> decode_rle(const Source& s, size_t offset, bool rle4, size_t w, size_t h) {
  std::vector<uint8_t> data;
  const size_t total = w * h;
  size_t pos = offset, x = 0;
  auto avail = [&](size_t n) { return pos <= s.size ? std::min(n, s.size - pos) : size_t(0); };
  while (data.size() < total) {
    if (avail(2) < 2) break;
    size_t count = s.data[pos];
    const uint8_t byte = s.data[pos + 1];
    pos += 2;
    if (count) {
      if (x + count > w) count = x < w ? w - x : 0;
      for (size_t i = 0; i < count; ++i)
        data.push_back(rle4 ? ((i % 2 == 0) ? byte >> 4 : byte & 15) : byte);
      x += count;
    } else if (byte == 0) {  // end of line
      while (data.size() % w != 0) data.push_back(0);
      x = 0;
    } else if (byte == 1) {  // end of bitmap
      break;
    } else if (byte == 2) {  // delta: Pillow reads two bytes, then the offsets from the next two
      if (avail(2) < 2) break;
      pos += 2;
      if (avail(2) < 2) fail_at(s, kFmt, "file truncated in an RLE delta at byte ", pos);
      const size_t right = s.data[pos], up = s.data[pos + 1];
      pos += 2;
      data.insert(data.end(), right + up * w, 0);
      x = data.size() % w;
    } else {  // absolute run
      const size_t byte_count = rle4 ? byte / 2 : byte;
      const size_t got = avail(byte_count);
      for (size_t i = 0; i < got; ++i) {
        const uint8_t b = s.data[pos + i];
        if (rle4) {
          data.push_back(b >> 4);
          data.push_back(b & 15);
        } else {
          data.push_back(b);
        }
      }
      pos += got;
      if (got < byte_count) break;
      x += byte;
      if (pos % 2 != 0) ++pos;
    }
  }
  if (data.size() < total)
    fail_at(s, kFmt, "not enough image data in the RLE stream (", data.size(), " of ", total, " pixels)");
  return data;
}

// BITFIELDS: the masks Pillow accepts and the raw mode each selects.
Raw bitfields_layout(const Source& s, const Header& h) {
  const uint32_t* m = h.masks;
  auto masks_are = [m](uint32_t r, uint32_t g, uint32_t b, uint32_t a) {
    return m[0] == r && m[1] == g && m[2] == b && m[3] == a;
  };
  if (h.bits == 32) {
    if (masks_are(0xFF0000, 0xFF00, 0xFF, 0)) return Raw::kBGRX;
    if (masks_are(0xFF000000, 0xFF0000, 0xFF00, 0)) return Raw::kXBGR;
    if (masks_are(0xFF000000, 0xFF0000, 0xFF00, 0xFF)) return Raw::kABGR;
    if (masks_are(0xFF, 0xFF00, 0xFF0000, 0xFF000000)) return Raw::kRGBA;
    if (masks_are(0xFF0000, 0xFF00, 0xFF, 0xFF000000) || masks_are(0, 0, 0, 0)) return Raw::kBGRA;
  } else if (h.bits == 24 && m[0] == 0xFF0000 && m[1] == 0xFF00 && m[2] == 0xFF) {
    return Raw::kBGR;
  } else if (h.bits == 16 && m[0] == 0xF800 && m[1] == 0x7E0 && m[2] == 0x1F) {
    return Raw::kBGR16;
  } else if (h.bits == 16 && m[0] == 0x7C00 && m[1] == 0x3E0 && m[2] == 0x1F) {
    return Raw::kBGR15;
  }
  fail_at(s, kFmt, "unsupported BMP bitfields layout");
}

// The palette follows the header (a short read keeps what is there). A black-white palette makes
// the image "1", the identity grey ramp "L"; otherwise it becomes the P palette.
void read_palette(const Source& s, const Header& h, uint64_t colors, size_t& pos, Image& img, Raw& raw) {
  if (colors == 0 || colors > 65536) fail_at(s, kFmt, "unsupported BMP palette size (", colors, ")");
  const size_t want = size_t(h.padding) * colors;
  const size_t got = std::min(want, s.size - pos);
  const uint8_t* pal = s.data + pos;
  pos += got;
  bool grey = true;
  for (uint64_t i = 0; i < colors && grey; ++i) {
    const uint8_t v = colors == 2 ? (i ? 255 : 0) : uint8_t(i & 255);
    const size_t at = size_t(i) * h.padding;
    if (at + 3 > got || pal[at] != v || pal[at + 1] != v || pal[at + 2] != v) grey = false;
  }
  if (grey) {
    img.mode = colors == 2 ? Mode::kOne : Mode::kL;
    raw = colors == 2 ? Raw::kOne : Raw::kL;
    return;
  }
  const size_t entries = got / h.padding;
  if (entries > 256) fail_at(s, kFmt, "palette of ", entries, " entries is too large");
  img.palette.resize(entries);
  for (size_t i = 0; i < entries; ++i) {
    const uint8_t* e = pal + i * h.padding;
    img.palette[i] = {e[2], e[1], e[0], 255};
  }
}

}  // namespace

Image decode_bmp(const Source& s) {
  if (s.size < 14) fail_at(s, kFmt, "file truncated in the header (", s.size, " bytes)");
  size_t offset = le32(s.data + 10);
  size_t pos = 0;
  const Header h = read_header(s, pos);

  Image img;
  img.format = "BMP";
  Raw raw;
  switch (h.bits) {
    case 1: img.mode = Mode::kP; raw = Raw::kP1; break;
    case 4: img.mode = Mode::kP; raw = Raw::kP4; break;
    case 8: img.mode = Mode::kP; raw = Raw::kP8; break;
    case 16: img.mode = Mode::kRGB; raw = Raw::kBGR15; break;
    case 24: img.mode = Mode::kRGB; raw = Raw::kBGR; break;
    case 32: img.mode = Mode::kRGB; raw = Raw::kBGRX; break;
    default: fail_at(s, kFmt, "unsupported BMP pixel depth (", h.bits, ")");
  }
  const uint64_t colors = h.colors ? h.colors : (h.bits <= 32 ? uint64_t(1) << h.bits : 0);
  if (offset == 14 + h.header_size && h.bits <= 8) offset += 4 * colors;

  const bool rle = h.compression == 1 || h.compression == 2;
  if (h.compression == 3) {
    raw = bitfields_layout(s, h);
    if (raw == Raw::kABGR || raw == Raw::kRGBA || raw == Raw::kBGRA) img.mode = Mode::kRGBA;
  } else if (!rle && h.compression != 0) {
    fail_at(s, kFmt, "unsupported BMP compression (", h.compression, ")");
  }
  if (img.mode == Mode::kP) read_palette(s, h, colors, pos, img, raw);
  if (offset == 0) offset = pos;

  check_dimensions(s, kFmt, h.width, h.height);
  img.width = int(h.width);
  img.height = int(h.height);
  allocate_pixels(img);
  const size_t w = h.width, rows = h.height;
  const size_t out_row = img.row_bytes();

  if (rle) {
    if (img.mode != Mode::kP && img.mode != Mode::kL)
      fail_at(s, kFmt, "RLE compression with ", h.bits, "-bit pixels is not supported");
    const std::vector<uint8_t> data = decode_rle(s, offset, h.compression == 2, w, rows);
    for (size_t i = 0; i < rows; ++i)
      std::memcpy(img.row(int(h.top_down ? i : rows - 1 - i)), data.data() + i * w, w);
    return img;
  }

  const uint64_t stride = ((uint64_t(h.width) * h.bits + 31) >> 3) & ~uint64_t(3);
  const uint64_t need = (uint64_t(h.width) * raw_bits(raw) + 7) / 8;
  if (stride < need) fail_at(s, kFmt, "row stride ", stride, " too small for the pixel layout");
  const uint64_t total = stride * (rows - 1) + need;
  if (offset > s.size || total > s.size - offset)
    fail_at(s, kFmt, "file truncated: pixel data needs ", total, " bytes from byte ", offset, ", file has ", s.size);
  for (size_t i = 0; i < rows; ++i) {
    const size_t y = h.top_down ? i : rows - 1 - i;
    unpack_row(raw, s.data + offset + i * stride, img.pixels.data() + y * out_row, w);
  }
  return img;
}

}  // namespace clipkit::image::detail
