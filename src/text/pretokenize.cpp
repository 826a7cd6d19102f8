#include "text/pretokenize.h"

#include <utf8proc.h>

#include <array>

#include "core/error.h"
#include "text/unicode_props.h"
#include "text/utf8.h"

namespace clipkit::text {
namespace {

using unicode::is_white_space;  // Unicode White_Space, as `\s` in the regex module

CharClass classify(char32_t cp, PatternCase mode) {
  if (is_white_space(cp)) return CharClass::space;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::letter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::number;
    default:
      // U+0345 is the only code point whose case partners (U+0399, U+03B9, U+1FBE) are letters
      // while it is not; under IGNORECASE the negated class rejects it (see the header).
      if (cp == 0x345 && mode == PatternCase::insensitive) return CharClass::none;
      return CharClass::other;
  }
}

// Classes of the ASCII range, so the common case needs no table walk in utf8proc.
const std::array<CharClass, 128> kAsciiClass = [] {
  std::array<CharClass, 128> t{};
  for (char32_t c = 0; c < 128; ++c) t[c] = classify(c, PatternCase::sensitive);
  return t;
}();

inline CharClass class_at(std::string_view s, std::size_t i, std::size_t& next, PatternCase mode) {
  const unsigned char b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    next = i + 1;
    return kAsciiClass[b];
  }
  next = i;
  return classify(next_code_point(s, next), mode);
}

// Does the pattern letter `p` (lower-case ASCII) match the code point at s[i]? Advances i.
// Case-insensitively a letter matches both ASCII cases, and `s` also matches U+017F, the only
// other character the regex module folds onto one of the pattern's letters.
inline bool match_letter(std::string_view s, std::size_t& i, char p, PatternCase mode) {
  if (i >= s.size()) return false;
  const unsigned char b = static_cast<unsigned char>(s[i]);
  if (b == static_cast<unsigned char>(p)) {
    ++i;
    return true;
  }
  if (mode == PatternCase::sensitive) return false;
  if (b == static_cast<unsigned char>(p - 'a' + 'A')) {
    ++i;
    return true;
  }
  if (p == 's' && b == 0xC5 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBF) {
    i += 2;  // U+017F LATIN SMALL LETTER LONG S
    return true;
  }
  return false;
}

// Matches `lit` (ASCII; letters lower-case) at s[i]; returns the end offset or 0.
std::size_t match_literal(std::string_view s, std::size_t i, std::string_view lit, PatternCase mode) {
  for (char p : lit) {
    if (p >= 'a' && p <= 'z') {
      if (!match_letter(s, i, p, mode)) return 0;
    } else {
      if (i >= s.size() || s[i] != p) return 0;
      ++i;
    }
  }
  return i;
}

// The contraction alternatives, in the pattern's order; `i` points just after the apostrophe.
std::size_t match_contraction(std::string_view s, std::size_t i, PatternCase mode) {
  static constexpr std::string_view kSuffixes[] = {"s", "t", "re", "ve", "m", "ll", "d"};
  for (std::string_view suf : kSuffixes)
    if (std::size_t end = match_literal(s, i, suf, mode)) return end;
  return 0;
}

}  // namespace

CharClass char_class(char32_t cp, PatternCase mode) { return classify(cp, mode); }

void pretokenize(std::string_view text, PatternCase mode, std::vector<Piece>& out) {
  CLIPKIT_CHECK(text.size() <= UINT32_MAX, "text of ", text.size(), " bytes is too long to tokenize");
  const std::size_t n = text.size();
  std::size_t i = 0;
  auto emit = [&](std::size_t b, std::size_t e, bool special) {
    out.push_back(Piece{static_cast<uint32_t>(b), static_cast<uint32_t>(e - b), special});
  };
  while (i < n) {
    const char c = text[i];
    if (c == '<') {
      std::size_t end = match_literal(text, i, "<|startoftext|>", mode);
      if (!end) end = match_literal(text, i, "<|endoftext|>", mode);
      if (end) {
        emit(i, end, true);
        i = end;
        continue;
      }
    } else if (c == '\'') {
      if (std::size_t end = match_contraction(text, i + 1, mode)) {
        emit(i, end, false);
        i = end;
        continue;
      }
    }
    std::size_t next;
    const CharClass cls = class_at(text, i, next, mode);
    switch (cls) {
      case CharClass::space:
      case CharClass::none:
        i = next;  // matched by no alternative: findall skips it
        break;
      case CharClass::number:
        emit(i, next, false);  // [\p{N}]: one character
        i = next;
        break;
      case CharClass::letter:
      case CharClass::other: {
        // [\p{L}]+ or [^\s\p{L}\p{N}]+: the longest run of the same class. Inside a run no other
        // alternative is tried, so "!<|endoftext|>" gives "!<|" and "!'s" gives "!'" then "s".
        const std::size_t begin = i;
        i = next;
        while (i < n) {
          std::size_t after;
          if (class_at(text, i, after, mode) != cls) break;
          i = after;
        }
        emit(begin, i, false);
        break;
      }
    }
  }
}

std::vector<std::string_view> pretokenize(std::string_view text, PatternCase mode) {
  std::vector<Piece> pieces;
  pretokenize(text, mode, pieces);
  std::vector<std::string_view> out;
  out.reserve(pieces.size());
  for (const Piece& p : pieces) out.push_back(text.substr(p.begin, p.size));
  return out;
}

}  // namespace clipkit::text
