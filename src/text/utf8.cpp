#include "text/utf8.h"

#include <cstdio>

#include "core/error.h"

namespace clipkit::text {
namespace {

// Length of the well-formed prefix of the sequence starting at s[i] (1..4), and whether it is
// complete. A lone bad byte has prefix length 1 and is incomplete. Ranges follow Table 3-7 of
// the Unicode standard ("well-formed UTF-8 byte sequences"), which Python's decoder enforces.
struct SeqCheck {
  std::size_t prefix;
  bool complete;
};

SeqCheck check_sequence(const unsigned char* p, std::size_t avail) {
  const unsigned b0 = p[0];
  if (b0 < 0x80) return {1, true};
  std::size_t need;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong 3-byte forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlong 4-byte forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {1, false};  // continuation byte, C0, C1 or F5..FF as a lead
  }
  std::size_t k = 1;
  for (; k < need; ++k) {
    if (k >= avail) return {k, false};
    const unsigned b = p[k];
    const unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return {k, false};
  }
  return {need, true};
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path: eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const SeqCheck c = check_sequence(p + i, n - i);
    if (!c.complete) return i;
    i += c.prefix;
  }
  return std::string_view::npos;
}

void check_utf8(std::string_view s, std::string_view what) {
  const std::size_t bad = find_invalid_utf8(s);
  if (bad == std::string_view::npos) return;
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(s[bad]));
  fail(what, " is not valid UTF-8: byte ", hex, " at offset ", bad,
       " does not start a well-formed sequence (ask for replacement of invalid bytes to accept it)");
}

std::string replace_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::string out;
  out.reserve(n + 8);
  std::size_t i = 0;
  while (i < n) {
    const SeqCheck c = check_sequence(p + i, n - i);
    if (c.complete)
      out.append(s.data() + i, c.prefix);
    else
      out.append("\xEF\xBF\xBD");  // U+FFFD for the maximal subpart
    i += c.prefix;
  }
  return out;
}

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

}  // namespace clipkit::text
