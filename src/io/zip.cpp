#include "io/zip.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/mapped_file.h"

namespace clipkit::io {

namespace {

constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;

uint16_t u16(const unsigned char* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t u32(const unsigned char* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
uint64_t u64(const unsigned char* p) { return uint64_t(u32(p)) | (uint64_t(u32(p + 4)) << 32); }

// True when [off, off + len) lies inside a file of `size` bytes (without overflow).
bool inside(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

}  // namespace

ZipArchive ZipArchive::open(const std::string& path) {
  auto m = MappedFile::open(path);
  const unsigned char* d = m->data();
  const size_t n = m->size();
  return parse(std::shared_ptr<const void>(m, d), d, n, path);
}

ZipArchive ZipArchive::parse(std::shared_ptr<const void> owner, const unsigned char* data,
                             size_t size, const std::string& label) {
  ZipArchive z;
  z.owner_ = std::move(owner);
  z.data_ = data;
  z.size_ = size;
  z.label_ = label;
  CLIPKIT_CHECK(size >= 22, label, ": not a zip archive (", size, " bytes)");
  // The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KiB.
  int64_t eocd = -1;
  const int64_t lowest = std::max<int64_t>(0, int64_t(size) - 22 - 65535);
  for (int64_t p = int64_t(size) - 22; p >= lowest; --p)
    if (u32(data + p) == kEocdSig) {
      eocd = p;
      break;
    }
  CLIPKIT_CHECK(eocd >= 0, label, ": not a zip archive (no end of central directory record)");
  const unsigned char* e = data + eocd;
  uint64_t count = u16(e + 10);
  uint64_t cd_size = u32(e + 12);
  uint64_t cd_off = u32(e + 16);
  CLIPKIT_CHECK(u16(e + 4) == 0 && u16(e + 6) == 0, label, ": multi-disk zip archives are not supported");
  if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) {
    CLIPKIT_CHECK(eocd >= 20 && u32(data + eocd - 20) == kZip64LocatorSig, label,
                  ": ZIP64 sizes without a ZIP64 locator");
    const uint64_t z64 = u64(data + eocd - 20 + 8);
    CLIPKIT_CHECK(inside(z64, 56, size) && u32(data + z64) == kZip64EocdSig, label,
                  ": ZIP64 end of central directory at offset ", z64, " is invalid");
    count = u64(data + z64 + 32);
    cd_size = u64(data + z64 + 40);
    cd_off = u64(data + z64 + 48);
  }
  CLIPKIT_CHECK(inside(cd_off, cd_size, size), label, ": central directory [", cd_off, ", +",
                cd_size, ") lies outside the file of ", size, " bytes");
  // Each central record is at least 46 bytes, which bounds a lying entry count.
  CLIPKIT_CHECK(count <= cd_size / 46, label, ": central directory claims ", count,
                " entries in ", cd_size, " bytes");
  z.entries_.reserve(size_t(count));
  uint64_t p = cd_off;
  const uint64_t cd_end = cd_off + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    CLIPKIT_CHECK(inside(p, 46, cd_end) && u32(data + p) == kCentralSig, label,
                  ": central directory entry ", i, " at offset ", p, " is invalid");
    const unsigned char* c = data + p;
    Entry en;
    const uint16_t flags = u16(c + 8);
    en.method = u16(c + 10);
    en.crc32 = u32(c + 16);
    en.compressed_size = u32(c + 20);
    en.size = u32(c + 24);
    const uint16_t name_len = u16(c + 28), extra_len = u16(c + 30), comment_len = u16(c + 32);
    en.local_header_offset = u32(c + 42);
    CLIPKIT_CHECK(inside(p + 46, uint64_t(name_len) + extra_len + comment_len, cd_end), label,
                  ": central directory entry ", i, " runs past the directory");
    en.name.assign(reinterpret_cast<const char*>(c + 46), name_len);
    CLIPKIT_CHECK((flags & 1) == 0, label, ": entry '", en.name, "' is encrypted");
    // ZIP64 extra field: the 64-bit values of the fields saturated at 0xFFFFFFFF, in order.
    const unsigned char* x = c + 46 + name_len;
    const unsigned char* xend = x + extra_len;
    while (xend - x >= 4) {
      const uint16_t id = u16(x), len = u16(x + 2);
      CLIPKIT_CHECK(len <= xend - x - 4, label, ": entry '", en.name, "' has a truncated extra field");
      if (id == 0x0001) {
        const unsigned char* q = x + 4;
        const unsigned char* qend = q + len;
        auto take = [&](uint64_t& field) {
          if (field != 0xFFFFFFFF) return;
          CLIPKIT_CHECK(qend - q >= 8, label, ": entry '", en.name, "' has a short ZIP64 field");
          field = u64(q);
          q += 8;
        };
        take(en.size);
        take(en.compressed_size);
        take(en.local_header_offset);
      }
      x += 4 + len;
    }
    const uint64_t lh = en.local_header_offset;
    CLIPKIT_CHECK(inside(lh, 30, size) && u32(data + lh) == kLocalSig, label, ": entry '",
                  en.name, "' local header at offset ", lh, " is invalid");
    en.data_offset = lh + 30 + u16(data + lh + 26) + u16(data + lh + 28);
    CLIPKIT_CHECK(inside(en.data_offset, en.compressed_size, size), label, ": entry '", en.name,
                  "' data [", en.data_offset, ", +", en.compressed_size,
                  ") runs past the end of the file (", size, " bytes)");
    CLIPKIT_CHECK(en.method == 0 || en.method == 8, label, ": entry '", en.name,
                  "' uses compression method ", en.method, " (only stored and deflated are supported)");
    CLIPKIT_CHECK(en.method != 0 || en.compressed_size == en.size, label, ": stored entry '",
                  en.name, "' has compressed size ", en.compressed_size, " != size ", en.size);
    z.entries_.push_back(std::move(en));
    p += 46 + uint64_t(name_len) + extra_len + comment_len;
  }
  return z;
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

ZipArchive::Bytes ZipArchive::read(const Entry& e, bool verify_crc) const {
  Bytes b;
  const unsigned char* src = data_ + e.data_offset;
  if (e.method == 0) {
    b.data = src;
    b.size = size_t(e.size);
    b.owner = owner_;
  } else {
    // Inflation bombs: refuse sizes far beyond what deflate can reach (ratio ~1032:1).
    CLIPKIT_CHECK(e.size / 1032 <= e.compressed_size + 1, label_, ": entry '", e.name,
                  "' claims ", e.size, " bytes from ", e.compressed_size, " compressed");
    auto buf = std::shared_ptr<unsigned char[]>(new unsigned char[size_t(e.size) + 1]);
    z_stream zs{};
    CLIPKIT_CHECK(inflateInit2(&zs, -MAX_WBITS) == Z_OK, label_, ": zlib initialisation failed");
    uint64_t in_left = e.compressed_size, out_done = 0;
    const unsigned char* in = src;
    int rc = Z_OK;
    while (rc == Z_OK) {
      const uInt in_chunk = uInt(std::min<uint64_t>(in_left, 1u << 30));
      const uInt out_chunk = uInt(std::min<uint64_t>(e.size + 1 - out_done, 1u << 30));
      zs.next_in = const_cast<unsigned char*>(in);
      zs.avail_in = in_chunk;
      zs.next_out = buf.get() + out_done;
      zs.avail_out = out_chunk;
      rc = inflate(&zs, Z_NO_FLUSH);
      in += in_chunk - zs.avail_in;
      in_left -= in_chunk - zs.avail_in;
      out_done += out_chunk - zs.avail_out;
      if (rc == Z_OK && zs.avail_in == in_chunk && zs.avail_out == out_chunk) rc = Z_BUF_ERROR;
    }
    inflateEnd(&zs);
    CLIPKIT_CHECK(rc == Z_STREAM_END && out_done == e.size, label_, ": entry '", e.name,
                  "' does not inflate to its stated ", e.size, " bytes");
    b.data = buf.get();
    b.size = size_t(e.size);
    b.owner = std::shared_ptr<const void>(buf, buf.get());
    verify_crc = true;
  }
  if (verify_crc) {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < b.size;) {
      const uInt n = uInt(std::min<size_t>(b.size - off, 1u << 30));
      crc = crc32(crc, b.data + off, n);
      off += n;
    }
    CLIPKIT_CHECK(uint32_t(crc) == e.crc32, label_, ": entry '", e.name, "' fails its CRC check");
  }
  return b;
}

}  // namespace clipkit::io
