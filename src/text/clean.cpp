// CLIP's text clean-up (simple_tokenizer.py): basic_clean = ftfy.fix_text, html.unescape twice,
// strip; then whitespace_clean; then str.lower().
#include "text/clean.h"

#include <string>
#include <string_view>

#include "text/unicode_props.h"
#include "text/unicode_utf8.h"

namespace clipkit::text {
namespace {

// The code point at s[i] and its length, tolerating ill-formed bytes (one U+FFFD each).
char32_t code_point_at(std::string_view s, std::size_t i, std::size_t& len) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    len = 1;
    return b;
  }
  char32_t cp = 0;
  const int n = unicode::decode_one(s, i, cp);
  len = n > 0 ? static_cast<std::size_t>(n) : 1;
  return n > 0 ? cp : 0xFFFD;
}

// Python's str.strip(): drops leading and trailing str.isspace() characters.
std::string_view py_strip(std::string_view s) {
  std::size_t begin = 0;
  while (begin < s.size()) {
    std::size_t len = 0;
    if (!unicode::is_py_space(code_point_at(s, begin, len))) break;
    begin += len;
  }
  std::size_t end = s.size();
  while (end > begin) {
    // Step back to the start of the last code point.
    std::size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && end - start < 4) {
      --start;
    }
    std::size_t len = 0;
    const char32_t cp = code_point_at(s, start, len);
    if (start + len != end) start = end - 1;  // ill-formed tail: treat the last byte alone
    if (!unicode::is_py_space(start + len == end ? cp : 0xFFFD)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

}  // namespace

std::string whitespace_clean(std::string_view text) {
  // re.sub(r'\s+', ' ', text) with the `regex` module's \s (Unicode White_Space), then strip().
  std::string out;
  out.reserve(text.size());
  bool in_space = false;
  for (std::size_t i = 0; i < text.size();) {
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
  std::string s = ftfy_fix_text(text);
  s = html_unescape(html_unescape(s));
  return python_lower(whitespace_clean(py_strip(s)));
}

}  // namespace clipkit::text
