// UTF-8 <-> code point conversion for the text clean-up, which works on code points wherever
// Python's semantics are defined per character (ftfy, str.lower()).
#pragma once

#include <string>
#include <string_view>

namespace clipkit::text::unicode {

// Appends the code points of s to out. The clean-up receives valid UTF-8; should an ill-formed
// byte slip through anyway, each such byte decodes to U+FFFD so nothing reads out of bounds.
void decode_utf8(std::string_view s, std::u32string& out);

// Appends the UTF-8 encoding of c (a Unicode scalar value).
inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Appends the UTF-8 encoding of every code point of s.
void append_utf8(std::string& out, std::u32string_view s);

// Decodes the well-formed UTF-8 sequence at s[i] (Python's strict rules: shortest form, no
// surrogates, at most U+10FFFF). Returns its length (1-4) and sets cp, or 0 when the bytes at i
// are not a complete well-formed sequence.
int decode_one(std::string_view s, std::size_t i, char32_t& cp);

}  // namespace clipkit::text::unicode
