// Python 3.11's html.unescape, reference by reference:
//   &#digits;?  &#xhex;?  (numeric; invalid code points per the HTML5 rules)
//   &name;?     where name is 1-32 characters other than \t \n \f space < & # ;
//               -> the html5 table entry for the whole match, else the longest legacy prefix
//               (a name listed without ';', such as "amp" or "not"), else left as it was.
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"
#include "text/clean.h"
#include "text/html_entities.h"
#include "text/utf8.h"

namespace clipkit::text {
namespace html {

const char* find_entity(const Entity* table, std::size_t n, std::string_view name) {
  const Entity* end = table + n;
  const Entity* it = std::lower_bound(table, end, name, [](const Entity& e, std::string_view v) {
    return std::string_view(e.name) < v;
  });
  if (it == end || std::string_view(it->name) != name) return nullptr;
  return it->value;
}

}  // namespace html

namespace {

// The HTML5 "invalid character reference" remapping of C1 code points to Windows-1252, as
// Python's html._invalid_charrefs lists it (0x81, 0x8D, 0x8F, 0x90 and 0x9D map to themselves).
constexpr char32_t kC1Charrefs[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

// Longest name in the html5 table that has no ';' ("frac34", "middot", ...).
constexpr std::size_t kMaxLegacyName = 6;

// Appends the text of numeric reference `num` (saturated above 0x10FFFF).
void append_numeric(std::string& out, std::uint64_t num) {
  if (num == 0x00) return append_utf8(out, 0xFFFD);
  if (num == 0x0D) return append_utf8(out, 0x0D);
  if (num >= 0x80 && num <= 0x9F) return append_utf8(out, kC1Charrefs[num - 0x80]);
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return append_utf8(out, 0xFFFD);
  // Python's _invalid_codepoints vanish.
  if ((num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) || num == 0x7F ||
      (num >= 0xFDD0 && num <= 0xFDEF) || (num & 0xFFFE) == 0xFFFE) {
    return;
  }
  append_utf8(out, static_cast<char32_t>(num));
}

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_hex(char c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char c) {
  if (c <= '9') return c - '0';
  return (c | 0x20) - 'a' + 10;
}

// Python 3.11 refuses to convert decimal strings longer than this (sys.int_info
// .default_max_str_digits); html.unescape then raises ValueError.
constexpr std::size_t kMaxDecimalDigits = 4300;

// Handles a numeric reference whose '#' is at s[hash]. Returns the index after it, or 0 when
// the text there is not a numeric reference.
std::size_t numeric_ref(std::string_view s, std::size_t hash, std::string& out) {
  std::size_t i = hash + 1;
  std::uint64_t num = 0;
  constexpr std::uint64_t kSaturated = 0x110000;
  if (i < s.size() && is_ascii_digit(s[i])) {
    const std::size_t start = i;
    for (; i < s.size() && is_ascii_digit(s[i]); ++i) {
      num = std::min<std::uint64_t>(num * 10 + static_cast<std::uint64_t>(s[i] - '0'), kSaturated);
    }
    if (i - start > kMaxDecimalDigits) {
      fail("html.unescape: the numeric character reference at byte ", hash - 1, " has ",
           i - start, " digits, more than Python's int() converts (", kMaxDecimalDigits, ")");
    }
  } else if (i + 1 < s.size() && (s[i] == 'x' || s[i] == 'X') && is_ascii_hex(s[i + 1])) {
    for (++i; i < s.size() && is_ascii_hex(s[i]); ++i) {
      num = std::min<std::uint64_t>(num * 16 + static_cast<std::uint64_t>(hex_value(s[i])),
                                    kSaturated);
    }
  } else {
    return 0;
  }
  if (i < s.size() && s[i] == ';') ++i;
  append_numeric(out, num);
  return i;
}

bool ends_name(unsigned char c) {
  return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' ||
         c == ';';
}

// Handles a named reference whose name starts at s[start]. Returns the index after it, or 0
// when no name follows the '&'.
std::size_t named_ref(std::string_view s, std::size_t start, std::string& out) {
  // Up to 32 code points (not bytes) of name.
  std::size_t end = start;
  int count = 0;
  while (end < s.size() && count < 32 && !ends_name(static_cast<unsigned char>(s[end]))) {
    char32_t cp = 0;
    const int len = decode_one(s, end, cp);
    end += len > 0 ? static_cast<std::size_t>(len) : 1;
    ++count;
  }
  if (count == 0) return 0;
  const std::size_t stop = (end < s.size() && s[end] == ';') ? end + 1 : end;
  const std::string_view ref = s.substr(start, stop - start);
  if (const char* value = html::find_html5(ref)) {
    out += value;
    return stop;
  }
  // Longest proper prefix of at least 2 characters that is a legacy name. Legacy names are ASCII,
  // so only the ASCII head of the reference can match, byte for byte.
  std::size_t ascii = 0;
  while (ascii < ref.size() && static_cast<unsigned char>(ref[ascii]) < 0x80) ++ascii;
  const std::size_t ref_chars = static_cast<std::size_t>(count) + (stop > end ? 1 : 0);
  std::size_t x = std::min({ref_chars - 1, ascii, kMaxLegacyName});
  for (; x >= 2; --x) {
    if (const char* value = html::find_html5(ref.substr(0, x))) {
      out += value;
      out.append(ref.substr(x));
      return stop;
    }
  }
  out.push_back('&');
  out.append(ref);
  return stop;
}

}  // namespace

std::string html_unescape(std::string_view text) {
  std::size_t amp = text.find('&');
  if (amp == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (amp != std::string_view::npos) {
    out.append(text.substr(i, amp - i));
    std::size_t next = 0;
    if (amp + 1 < text.size()) {
      next = text[amp + 1] == '#' ? numeric_ref(text, amp + 1, out) : named_ref(text, amp + 1, out);
    }
    if (next == 0) {  // a lone '&': keep it and look again from the next character
      out.push_back('&');
      next = amp + 1;
    }
    i = next;
    amp = text.find('&', i);
  }
  out.append(text.substr(i));
  return out;
}

}  // namespace clipkit::text
