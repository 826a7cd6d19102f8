// UTF-8 validation, decoding and encoding for the whole text layer. Input text reaches the
// tokenizer as bytes; it is checked once here (Python's strict UTF-8 rules: no overlong forms, no
// surrogates, nothing above U+10FFFF) so every later stage may assume well-formed UTF-8. The text
// clean-up (ftfy, str.lower()) works on code points wherever Python's semantics are defined per
// character, so the code point <-> UTF-8 conversions it needs live here too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace clipkit::text {

// Offset of the first byte of the first ill-formed sequence, or npos when `s` is valid UTF-8.
std::size_t find_invalid_utf8(std::string_view s);

// Throws clipkit::Error naming the offset and value of the first bad byte when `s` is not
// valid UTF-8. `what` names the input in the message (e.g. "text").
void check_utf8(std::string_view s, std::string_view what = "text");

// Python's bytes.decode('utf-8', 'replace'): every maximal subpart of an ill-formed sequence
// becomes one U+FFFD (the Unicode "substitution of maximal subparts" practice).
std::string replace_invalid_utf8(std::string_view s);

// Decodes the code point starting at s[i] of VALID UTF-8 and advances i past it.
inline char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const unsigned b0 = p[0];
  if (b0 < 0x80) {
    i += 1;
    return b0;
  }
  if (b0 < 0xE0) {
    i += 2;
    return ((b0 & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  }
  if (b0 < 0xF0) {
    i += 3;
    return ((b0 & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  }
  i += 4;
  return ((b0 & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
}

// Appends the UTF-8 encoding of cp (a Unicode scalar value). Inline: the clean-up calls it once
// per code point.
inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Appends the UTF-8 encoding of every code point of s.
void append_utf8(std::string& out, std::u32string_view s);

// Decodes the well-formed UTF-8 sequence at s[i] (Python's strict rules: shortest form, no
// surrogates, at most U+10FFFF). Returns its length (1-4) and sets cp, or 0 when the bytes at i
// are not a complete well-formed sequence.
int decode_one(std::string_view s, std::size_t i, char32_t& cp);

// Appends the code points of s to out. The clean-up receives valid UTF-8; should an ill-formed
// byte slip through anyway, each such byte decodes to U+FFFD so nothing reads out of bounds.
void decode_utf8(std::string_view s, std::u32string& out);

}  // namespace clipkit::text
