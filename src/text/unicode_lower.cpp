// Python's str.lower(): the full lower-case mapping of Unicode 14 (one code point can become two,
// e.g. U+0130 -> "i" U+0307) and the context rule for capital sigma.
#include <string>
#include <string_view>

#include "text/clean.h"
#include "text/unicode_props.h"
#include "text/utf8.h"

namespace clipkit::text {
namespace {

// The code point starting at s[i] and its length (an ill-formed byte reads as one U+FFFD).
char32_t next_cp(std::string_view s, std::size_t i, std::size_t& len) {
  char32_t cp = 0;
  const int n = decode_one(s, i, cp);
  len = n > 0 ? static_cast<std::size_t>(n) : 1;
  return n > 0 ? cp : 0xFFFD;
}

// The code point ending just before s[end] and where it starts.
char32_t prev_cp(std::string_view s, std::size_t end, std::size_t& start) {
  start = end - 1;
  while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
    --start;
  }
  std::size_t len = 0;
  const char32_t cp = next_cp(s, start, len);
  if (start + len == end) return cp;
  start = end - 1;
  return 0xFFFD;
}

// CPython's handle_capital_sigma for the U+03A3 at s[pos, pos + 2): final U+03C2 when a cased
// letter precedes it and none follows, skipping case-ignorable characters (apostrophes, marks,
// ...) both ways.
char32_t lower_sigma(std::string_view s, std::size_t pos) {
  bool final_sigma = false;
  std::size_t j = pos;
  while (j > 0) {
    std::size_t start = 0;
    const char32_t c = prev_cp(s, j, start);
    if (!unicode::is_case_ignorable(c)) {
      final_sigma = unicode::is_cased(c);
      break;
    }
    j = start;
  }
  if (final_sigma) {
    std::size_t k = pos + 2;
    while (k < s.size()) {
      std::size_t len = 0;
      const char32_t c = next_cp(s, k, len);
      if (!unicode::is_case_ignorable(c)) return unicode::is_cased(c) ? 0x3C3 : 0x3C2;
      k += len;
    }
  }
  return final_sigma ? 0x3C2 : 0x3C3;
}

}  // namespace

std::string python_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  char32_t low[2];
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b));
      ++i;
      continue;
    }
    std::size_t len = 0;
    const char32_t c = next_cp(text, i, len);
    if (c == 0x3A3) {
      append_utf8(out, lower_sigma(text, i));
    } else {
      const int n = unicode::lower_code_point(c, low);
      for (int m = 0; m < n; ++m) append_utf8(out, low[m]);
    }
    i += len;
  }
  return out;
}

}  // namespace clipkit::text
