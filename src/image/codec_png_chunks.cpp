#include "image/codec_png_chunks.h"

#include <zlib.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/exif.h"

namespace clipkit::image::detail {
namespace {

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// Pillow's is_cid: four "word" characters.
bool is_chunk_type(const uint8_t* t) {
  for (int i = 0; i < 4; ++i) {
    const uint8_t c = t[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return true;
}

std::string type_name(const uint8_t* t) { return std::string(reinterpret_cast<const char*>(t), 4); }

// Pillow's _safe_zlib_decompress: at most 1 MiB of text; more is an error ("Decompressed Data Too
// Large"); a corrupt stream yields nothing (nullopt); a truncated one what was decoded.
constexpr size_t kMaxTextChunk = 1 << 20;
enum class Inflate { kOk, kCorrupt, kTooLarge };

Inflate inflate_text(const uint8_t* in, size_t n, std::string& out) {
  out.assign(kMaxTextChunk, '\0');
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return Inflate::kCorrupt;
  z.next_in = const_cast<Bytef*>(in);
  z.avail_in = uInt(n);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  int rc = Z_OK;
  while (rc == Z_OK && z.avail_out > 0 && z.avail_in > 0) rc = inflate(&z, Z_NO_FLUSH);
  const bool tail = rc == Z_OK && z.avail_out == 0 && z.avail_in > 0;
  out.resize(out.size() - z.avail_out);
  inflateEnd(&z);
  if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return Inflate::kCorrupt;
  return tail ? Inflate::kTooLarge : Inflate::kOk;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = uint8_t(s[i]);
    int len;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const uint8_t cc = uint8_t(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += len;
  }
  return true;
}

// bytes.fromhex("".join(text.split("\n")[3:])): whitespace is skipped, anything else non-hex
// makes Pillow's getexif fail (nullopt here).
std::optional<std::vector<uint8_t>> raw_profile_bytes(std::string_view text) {
  size_t pos = 0;
  for (int line = 0; line < 3; ++line) {
    pos = text.find('\n', pos);
    if (pos == std::string_view::npos) return std::vector<uint8_t>{};
    ++pos;
  }
  std::vector<uint8_t> out;
  int hi = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') continue;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
      if (hi >= 0) return std::nullopt;
      continue;
    }
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return std::nullopt;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(uint8_t(hi << 4 | v));
      hi = -1;
    }
  }
  if (hi >= 0) return std::nullopt;
  return out;
}

// The entries of Pillow's info dict that getexif() looks at; later chunks replace earlier ones.
struct Metadata {
  std::optional<std::vector<uint8_t>> exif;  // info["exif"]; empty = present but unusable
  std::optional<std::string> raw_profile;    // info["Raw profile type exif"]
  std::optional<std::string> xmp;            // info["XML:com.adobe.xmp"]

  void set_text(std::string_view key, std::string value, bool raw_bytes) {
    if (key == "exif") {
      // A tEXt "exif" entry stays bytes; from zTXt/iTXt it is text, which getexif cannot load.
      exif = raw_bytes ? std::vector<uint8_t>(value.begin(), value.end()) : std::vector<uint8_t>{};
    } else if (key == "Raw profile type exif") {
      raw_profile = std::move(value);
    } else if (key == "XML:com.adobe.xmp") {
      xmp = std::move(value);
    }
  }

  int orientation() const {
    std::optional<int> o;
    if (exif) {
      o = exif_orientation_from_block(exif->data(), exif->size());
    } else if (raw_profile) {
      if (auto bytes = raw_profile_bytes(*raw_profile)) o = exif_orientation_from_block(bytes->data(), bytes->size());
    }
    if (!o && xmp) o = xmp_orientation(*xmp);
    return normalize_orientation(o.value_or(1));
  }
};

void handle_text_chunk(const Source& s, const uint8_t* type, const uint8_t* d, size_t n,
                       size_t offset, Metadata& meta) {
  const std::string_view body(reinterpret_cast<const char*>(d), n);
  const size_t nul = body.find('\0');
  const std::string_view key = body.substr(0, nul);
  const std::string_view rest = nul == std::string_view::npos ? std::string_view() : body.substr(nul + 1);
  if (std::memcmp(type, "tEXt", 4) == 0) {
    if (!key.empty()) meta.set_text(key, std::string(rest), true);
  } else if (std::memcmp(type, "zTXt", 4) == 0) {
    const uint8_t method = rest.empty() ? 0 : uint8_t(rest[0]);
    if (method != 0)
      fail_at(s, "PNG", "unknown compression method ", int(method), " in zTXt chunk at byte ", offset);
    std::string text;
    const std::string_view z = rest.empty() ? rest : rest.substr(1);
    const Inflate rc = inflate_text(reinterpret_cast<const uint8_t*>(z.data()), z.size(), text);
    if (rc == Inflate::kTooLarge)
      fail_at(s, "PNG", "zTXt chunk at byte ", offset, " decompresses to more than 1 MiB");
    if (rc == Inflate::kCorrupt) text.clear();
    if (!key.empty()) meta.set_text(key, std::move(text), false);
  } else {  // iTXt: key \0 flag method lang \0 translated-key \0 text
    if (nul == std::string_view::npos || rest.size() < 2) return;
    const uint8_t flag = uint8_t(rest[0]), method = uint8_t(rest[1]);
    const std::string_view r = rest.substr(2);
    const size_t a = r.find('\0');
    if (a == std::string_view::npos) return;
    const size_t b = r.find('\0', a + 1);
    if (b == std::string_view::npos) return;
    std::string text(r.substr(b + 1));
    if (flag != 0) {
      if (method != 0) return;
      std::string out;
      const Inflate rc = inflate_text(reinterpret_cast<const uint8_t*>(text.data()), text.size(), out);
      if (rc == Inflate::kTooLarge)
        fail_at(s, "PNG", "iTXt chunk at byte ", offset, " decompresses to more than 1 MiB");
      if (rc == Inflate::kCorrupt) return;
      text = std::move(out);
    }
    if (!valid_utf8(r.substr(0, a)) || !valid_utf8(r.substr(a + 1, b - a - 1)) || !valid_utf8(text)) return;
    meta.set_text(key, std::move(text), false);
  }
}

}  // namespace

PngChunkInfo scan_png_chunks(const Source& s) {
  Metadata meta;
  bool after_idat = false;
  size_t pos = 8;
  while (true) {
    if (s.size - pos < 8) {
      // Before the image data this is a broken file; after it Pillow simply stops reading.
      if (!after_idat) fail_at(s, "PNG", "file truncated: chunk header expected at byte ", pos);
      break;
    }
    const uint8_t* head = s.data + pos;
    const uint32_t len = be32(head);
    const uint8_t* type = head + 4;
    if (!is_chunk_type(type)) {
      if (!after_idat) fail_at(s, "PNG", "broken file: invalid chunk type at byte ", pos);
      break;
    }
    const bool idat = std::memcmp(type, "IDAT", 4) == 0;
    if (after_idat && std::memcmp(type, "IEND", 4) == 0) break;
    if (!after_idat && std::memcmp(type, "IEND", 4) == 0)
      fail_at(s, "PNG", "IEND at byte ", pos, " before any image data");
    const size_t data = pos + 8;
    if (idat) {
      after_idat = true;  // truncated image data is libpng's to report
      if (len > s.size - data) break;
      pos = data + len + 4;
      if (pos > s.size) break;
      continue;
    }
    if (len > s.size - data)
      fail_at(s, "PNG", "file truncated: chunk ", type_name(type), " at byte ", pos, " declares ", len,
              " bytes, ", s.size - data, " remain");
    if (!after_idat) {
      if (s.size - data - len < 4)
        fail_at(s, "PNG", "file truncated: incomplete checksum of chunk ", type_name(type), " at byte ", pos);
      const uint32_t crc = uint32_t(crc32(crc32(0, type, 4), s.data + data, len));
      if (crc != be32(s.data + data + len))
        fail_at(s, "PNG", "broken file: bad checksum in chunk ", type_name(type), " at byte ", pos);
    }
    if (std::memcmp(type, "eXIf", 4) == 0) {
      meta.exif = std::vector<uint8_t>(s.data + data, s.data + data + len);
    } else if (std::memcmp(type, "tEXt", 4) == 0 || std::memcmp(type, "zTXt", 4) == 0 ||
               std::memcmp(type, "iTXt", 4) == 0) {
      handle_text_chunk(s, type, s.data + data, len, pos, meta);
    }
    pos = data + len + 4;
    if (pos > s.size) break;
  }
  if (!after_idat) fail_at(s, "PNG", "no image data (IDAT) in file");
  PngChunkInfo info;
  info.orientation = meta.orientation();
  return info;
}

}  // namespace clipkit::image::detail
