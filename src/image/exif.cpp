// A small bounds-checked reader of the first IFD of an EXIF (TIFF) block, enough to find the
// orientation the way Pillow's ImageFileDirectory_v2 does. Never reads outside [data, data+size).
#include "image/exif.h"

#include <cmath>
#include <cstring>

namespace clipkit::image::detail {
namespace {

struct Reader {
  const uint8_t* p;
  size_t n;
  bool little;

  bool has(uint64_t off, uint64_t len) const { return off <= n && len <= n - off; }
  uint32_t u16(size_t off) const {
    return little ? uint32_t(p[off]) | uint32_t(p[off + 1]) << 8
                  : uint32_t(p[off]) << 8 | uint32_t(p[off + 1]);
  }
  uint32_t u32(size_t off) const {
    return little ? uint32_t(p[off]) | uint32_t(p[off + 1]) << 8 | uint32_t(p[off + 2]) << 16 |
                        uint32_t(p[off + 3]) << 24
                  : uint32_t(p[off]) << 24 | uint32_t(p[off + 1]) << 16 |
                        uint32_t(p[off + 2]) << 8 | uint32_t(p[off + 3]);
  }
};

// Bytes per value of the TIFF types Pillow can decode; 0 for types it skips.
int type_size(uint32_t type) {
  switch (type) {
    case 1: case 2: case 6: case 7: return 1;     // BYTE ASCII SBYTE UNDEFINED
    case 3: case 8: return 2;                     // SHORT SSHORT
    case 4: case 9: case 11: case 13: return 4;   // LONG SLONG FLOAT IFD
    case 5: case 10: case 12: case 16: return 8;  // RATIONAL SRATIONAL DOUBLE LONG8
    default: return 0;
  }
}

// Pillow looks the orientation up in a dict of ints: the first value counts when it compares
// equal to an integer (ints, integral rationals and floats); bytes and strings never match.
int first_value_as_int(const Reader& r, uint32_t type, size_t off) {
  switch (type) {
    case 3: return int(r.u16(off));
    case 8: return int(int16_t(r.u16(off)));
    case 4: case 13: return r.u32(off) > 0x7fffffffu ? 0 : int(r.u32(off));
    case 9: return int(int32_t(r.u32(off)));
    case 16: {
      const uint32_t hi = r.u32(r.little ? off + 4 : off), lo = r.u32(r.little ? off : off + 4);
      return hi != 0 || lo > 0x7fffffffu ? 0 : int(lo);
    }
    case 6: return int(int8_t(r.p[off]));
    case 5: case 10: {
      const int64_t num = type == 5 ? int64_t(r.u32(off)) : int64_t(int32_t(r.u32(off)));
      const int64_t den = type == 5 ? int64_t(r.u32(off + 4)) : int64_t(int32_t(r.u32(off + 4)));
      if (den == 0 || num % den != 0) return 0;
      const int64_t v = num / den;
      return v >= -1000 && v <= 1000 ? int(v) : 0;
    }
    case 11: case 12: {
      double v;
      if (type == 11) {
        const uint32_t bits = r.u32(off);
        float f;
        std::memcpy(&f, &bits, 4);
        v = f;
      } else {
        const uint64_t hi = r.u32(r.little ? off + 4 : off), lo = r.u32(r.little ? off : off + 4);
        const uint64_t bits = hi << 32 | lo;
        std::memcpy(&v, &bits, 8);
      }
      if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 1000) return 0;
      return int(v);
    }
    default: return 0;
  }
}

}  // namespace

std::optional<int> exif_orientation_from_block(const uint8_t* data, size_t size) {
  if (size >= 6 && std::memcmp(data, "Exif\0\0", 6) == 0) {
    data += 6;
    size -= 6;
  }
  if (size < 8) return std::nullopt;
  Reader r{data, size, false};
  if (std::memcmp(data, "II*\0", 4) == 0) {
    r.little = true;
  } else if (std::memcmp(data, "MM\0*", 4) != 0) {
    return std::nullopt;  // Pillow: "not a TIFF file"
  }
  const uint64_t ifd = r.u32(4);
  if (!r.has(ifd, 2)) return std::nullopt;
  const uint32_t count = r.u16(size_t(ifd));
  std::optional<int> orientation;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t entry = ifd + 2 + uint64_t(i) * 12;
    if (!r.has(entry, 12)) break;  // IFD cut short: keep what was read
    const size_t e = size_t(entry);
    if (r.u16(e) != 0x0112) continue;
    const uint32_t type = r.u16(e + 2);
    const uint64_t n = r.u32(e + 4);
    const int unit = type_size(type);
    if (unit == 0 || n == 0) continue;
    const uint64_t bytes = n * unit;
    uint64_t value_off = e + 8;
    if (bytes > 4) {
      value_off = r.u32(e + 8);
      // Pillow stops reading the IFD altogether when an out-of-line value is truncated.
      if (!r.has(value_off, bytes)) break;
    }
    orientation = first_value_as_int(r, type, size_t(value_off));
  }
  return orientation;
}

int xmp_orientation(std::string_view xmp) {
  static constexpr std::string_view kKey = "tiff:Orientation";
  size_t pos = 0;
  while ((pos = xmp.find(kKey, pos)) != std::string_view::npos) {
    size_t q = pos + kKey.size();
    if (q < xmp.size() && xmp[q] == '=' && q + 1 < xmp.size() && xmp[q + 1] == '"') {
      q += 2;
    } else if (q < xmp.size() && xmp[q] == '>') {
      q += 1;
    } else {
      pos += 1;
      continue;
    }
    if (q < xmp.size() && xmp[q] >= '0' && xmp[q] <= '9') return xmp[q] - '0';
    pos += 1;
  }
  return 0;
}

}  // namespace clipkit::image::detail
