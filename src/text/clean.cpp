// CLIP's text clean-up (simple_tokenizer.py): basic_clean = ftfy.fix_text, html.unescape twice,
// strip; then whitespace_clean; then str.lower().
#include "text/clean.h"

#include <string>
#include <string_view>

#include "text/unicode_props.h"
#include "text/utf8.h"

namespace clipkit::text {
namespace {

// The code point at s[i] and its length; an ill-formed byte counts as one U+FFFD.
char32_t code_point_at(std::string_view s, std::size_t i, std::size_t& len) {
  const auto b = static_cast<unsigned char>(s[i]);
  len = 1;
  if (b < 0x80) return b;
  char32_t cp = 0;
  const int n = decode_one(s, i, cp);
  if (n == 0) return 0xFFFD;
  len = static_cast<std::size_t>(n);
  return cp;
}

// Python's str.strip(): drops leading and trailing str.isspace() characters.
std::string_view py_strip(std::string_view s) {
  std::size_t begin = 0, len = 0;
  while (begin < s.size() && unicode::is_py_space(code_point_at(s, begin, len))) begin += len;
  std::size_t end = s.size();
  while (end > begin) {
    // The last code point starts at most 3 bytes back, at the first non-continuation byte.
    std::size_t start = end - 1;
    while (start > begin && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
      --start;
    }
    const char32_t cp = code_point_at(s, start, len);
    if (start + len != end || !unicode::is_py_space(cp)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

// Printable ASCII, tab, newline and form feed, without '&': ftfy and html.unescape leave such
// text alone, so the whole pipeline reduces to whitespace clean-up and ASCII lower-casing.
bool plain_ascii(std::string_view text) {
  // Branch-free accumulation so the compiler can vectorise the scan.
  bool bad = false;
  for (unsigned char c : text) {
    bad |= (c < 0x20 && c != '\t' && c != '\n' && c != '\f') || c >= 0x7F || c == '&';
  }
  return !bad;
}

std::string clean_plain_ascii(std::string_view text) {
  std::string out(text.size(), '\0');
  char* const begin = out.data();
  char* w = begin;
  bool pending_space = false;
  for (unsigned char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\f') {
      pending_space = w != begin;  // leading whitespace is stripped
      continue;
    }
    if (pending_space) *w++ = ' ';
    pending_space = false;
    *w++ = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  out.resize(static_cast<std::size_t>(w - begin));  // trailing whitespace was never written
  return out;
}

}  // namespace

std::string whitespace_clean(std::string_view text) {
  // re.sub(r'\s+', ' ', text) with the `regex` module's \s (Unicode White_Space), then strip().
  std::string out;
  out.reserve(text.size());
  bool in_space = false;
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {  // ASCII needs no decoding
      if (b == ' ' || (b >= '\t' && b <= '\r')) {
        if (!in_space) out.push_back(' ');
        in_space = true;
      } else {
        out.push_back(static_cast<char>(b));
        in_space = false;
      }
      ++i;
      continue;
    }
    std::size_t len = 0;
    const char32_t cp = code_point_at(text, i, len);
    if (unicode::is_white_space(cp)) {
      if (!in_space) out.push_back(' ');
      in_space = true;
    } else {
      out.append(text.substr(i, len));
      in_space = false;
    }
    i += len;
  }
  return std::string(py_strip(out));
}

std::string clean_text(std::string_view text) {
  if (plain_ascii(text)) return clean_plain_ascii(text);
  std::string s = ftfy_fix_text(text);
  s = html_unescape(html_unescape(s));
  return python_lower(whitespace_clean(py_strip(s)));
}

}  // namespace clipkit::text
