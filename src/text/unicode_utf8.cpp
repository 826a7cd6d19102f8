#include "text/unicode_utf8.h"

namespace clipkit::text::unicode {

int decode_one(std::string_view s, std::size_t i, char32_t& cp) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  const unsigned b0 = p[i];
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return k < n && p[k] >= lo && p[k] <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!cont(i + 1)) return 0;
    cp = ((b0 & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    // The second byte's range excludes overlong forms (E0) and surrogates (ED).
    const unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const unsigned hi = b0 == 0xED ? 0x9F : 0xBF;
    if (!cont(i + 1, lo, hi) || !cont(i + 2)) return 0;
    cp = ((b0 & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const unsigned lo = b0 == 0xF0 ? 0x90 : 0x80;
    const unsigned hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (!cont(i + 1, lo, hi) || !cont(i + 2) || !cont(i + 3)) return 0;
    cp = ((b0 & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) |
         (p[i + 3] & 0x3Fu);
    return 4;
  }
  return 0;
}

void decode_utf8(std::string_view s, std::u32string& out) {
  // Sized for the worst case (one code point per byte), written through a pointer, trimmed.
  const std::size_t base = out.size();
  out.resize(base + s.size());
  char32_t* w = out.data() + base;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t i = 0;
  while (i < s.size()) {
    if (p[i] < 0x80) {
      *w++ = p[i++];
      continue;
    }
    char32_t cp = 0;
    const int len = decode_one(s, i, cp);
    if (len == 0) {
      *w++ = 0xFFFD;
      ++i;
    } else {
      *w++ = cp;
      i += static_cast<std::size_t>(len);
    }
  }
  out.resize(static_cast<std::size_t>(w - out.data()));
}

void append_utf8(std::string& out, std::u32string_view s) {
  out.reserve(out.size() + s.size());
  for (char32_t c : s) append_utf8(out, c);
}

}  // namespace clipkit::text::unicode
