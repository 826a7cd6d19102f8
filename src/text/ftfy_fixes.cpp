#include "text/ftfy_fixes.h"

#include <algorithm>
#include <string_view>

#include "text/clean.h"
#include "text/ftfy_data.h"
#include "text/unicode_props.h"
#include "text/utf8.h"

namespace clipkit::text::ftfy {
namespace {

bool ascii_alnum(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Rewrites text with f(c, out) for every character, but only from the first character `touch`
// selects, so untouched text costs one scan.
template <typename Touch, typename F>
void rewrite(std::u32string& text, Touch touch, F f) {
  auto first = std::find_if(text.begin(), text.end(), touch);
  if (first == text.end()) return;
  std::u32string out(text.begin(), first);
  out.reserve(text.size() + 8);
  for (auto it = first; it != text.end(); ++it) f(*it, out);
  text.swap(out);
}

// The replacement of one HTML_ENTITY_RE match (`&#?[0-9A-Za-z]{1,24};`), appended to out.
void unescape_match(std::u32string_view match, std::u32string& out) {
  std::string ascii(match.begin(), match.end());  // the match is ASCII by construction
  if (const char* value = html::find_entity(kFtfyEntities, kFtfyEntities_size, ascii)) {
    decode_utf8(value, out);
    return;
  }
  if (match[1] == '#') {
    // html.unescape decides; a ';' left over means it did not take the whole reference.
    const std::string decoded = html_unescape(ascii);
    if (decoded.find(';') == std::string::npos) {
      decode_utf8(decoded, out);
      return;
    }
  }
  out.append(match);
}

}  // namespace

void unescape_html(std::u32string& text) {
  if (text.find(U'&') == std::u32string::npos) return;
  std::u32string out;
  out.reserve(text.size());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (text[i] != '&') {
      out.push_back(text[i++]);
      continue;
    }
    const std::size_t name = (i + 1 < n && text[i + 1] == '#') ? i + 2 : i + 1;
    std::size_t end = name;
    while (end < n && ascii_alnum(text[end])) ++end;
    const std::size_t len = end - name;
    if (len >= 1 && len <= 24 && end < n && text[end] == ';') {
      unescape_match(std::u32string_view(text).substr(i, end + 1 - i), out);
      i = end + 1;
    } else {
      out.push_back(text[i++]);
    }
  }
  text.swap(out);
}

void fix_latin_ligatures(std::u32string& text) {
  struct Ligature {
    char32_t cp;
    const char32_t* expansion;
  };
  static constexpr Ligature kLigatures[] = {
      {0x0132, U"IJ"},  {0x0133, U"ij"},       {0x0149, U"\u02BCn"}, {0x01C4, U"D\u017D"},
      {0x01C5, U"D\u017E"}, {0x01C6, U"d\u017E"}, {0x01C7, U"LJ"},  {0x01C8, U"Lj"},
      {0x01C9, U"lj"},  {0x01CA, U"NJ"},       {0x01CB, U"Nj"},      {0x01CC, U"nj"},
      {0x01F1, U"DZ"},  {0x01F2, U"Dz"},       {0x01F3, U"dz"},      {0xFB00, U"ff"},
      {0xFB01, U"fi"},  {0xFB02, U"fl"},       {0xFB03, U"ffi"},     {0xFB04, U"ffl"},
      {0xFB05, U"\u017Ft"}, {0xFB06, U"st"}};
  auto find = [](char32_t c) -> const char32_t* {
    if (c < 0x132 || (c > 0x1F3 && c < 0xFB00) || c > 0xFB06) return nullptr;
    for (const auto& l : kLigatures) {
      if (l.cp == c) return l.expansion;
    }
    return nullptr;
  };
  rewrite(
      text, [&](char32_t c) { return find(c) != nullptr; },
      [&](char32_t c, std::u32string& out) {
        if (const char32_t* e = find(c)) {
          out += e;
        } else {
          out.push_back(c);
        }
      });
}

void fix_character_width(std::u32string& text) {
  auto find = [](char32_t c) -> const WidthEntry* {
    if (c != 0x3000 && (c < 0xFF01 || c > 0xFFEF)) return nullptr;
    const WidthEntry* end = kWidthMap + kWidthMap_size;
    const WidthEntry* it = std::lower_bound(
        kWidthMap, end, c, [](const WidthEntry& e, char32_t v) { return e.cp < v; });
    return (it != end && it->cp == c) ? it : nullptr;
  };
  rewrite(
      text, [&](char32_t c) { return find(c) != nullptr; },
      [&](char32_t c, std::u32string& out) {
        if (const WidthEntry* e = find(c)) {
          out.push_back(e->first);
          if (e->second != 0) out.push_back(e->second);
        } else {
          out.push_back(c);
        }
      });
}

void uncurl_quotes(std::u32string& text) {
  for (char32_t& c : text) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) {
      c = '\'';
    } else if (c >= 0x201C && c <= 0x201F) {
      c = '"';
    }
  }
}

void fix_line_breaks(std::u32string& text) {
  auto is_break = [](char32_t c) { return c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85; };
  if (std::none_of(text.begin(), text.end(), is_break)) return;
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;  // \r\n -> \n
    out.push_back(is_break(c) ? U'\n' : c);
  }
  text.swap(out);
}

void remove_terminal_escapes(std::u32string& text) {
  if (text.find(U'\x1b') == std::u32string::npos) return;
  std::u32string out;
  out.reserve(text.size());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    if (text[i] == 0x1B && i + 1 < n && text[i + 1] == '[') {
      std::size_t j = i + 2;
      while (j < n && (text[j] == ';' || unicode::is_digit(text[j]))) ++j;
      if (j < n && text[j] < 0x80 && ((text[j] | 0x20) >= 'a' && (text[j] | 0x20) <= 'z')) {
        i = j + 1;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  text.swap(out);
}

void remove_control_chars(std::u32string& text) {
  auto is_control = [](char32_t c) {
    if (c < 0x20) return c != '\t' && c != '\n' && c != '\f' && c != '\r';
    return c == 0x7F || (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
  };
  text.erase(std::remove_if(text.begin(), text.end(), is_control), text.end());
}

}  // namespace clipkit::text::ftfy
