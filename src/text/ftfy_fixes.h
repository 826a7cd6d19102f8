// The character-level fixers of ftfy 6.3.1 (fixes.py), each in place on code points.
#pragma once

#include <string>

namespace clipkit::text::ftfy {

// fixes.unescape_html: '&name;' from ftfy's entity table (html5 names with ';', and the all-caps
// spellings of lower-case ones) and well-formed numeric references; nothing without ';'.
void unescape_html(std::u32string& text);
// fixes.fix_latin_ligatures: ﬁ -> fi, Ĳ -> IJ, ǆ -> dž, ŉ -> ʼn, ...
void fix_latin_ligatures(std::u32string& text);
// fixes.fix_character_width: fullwidth ASCII and U+3000 -> ASCII, halfwidth forms -> normal.
void fix_character_width(std::u32string& text);
// fixes.uncurl_quotes: ‘ ’ ‚ ‛ ʼ -> ' and “ ” „ ‟ -> ".
void uncurl_quotes(std::u32string& text);
// fixes.fix_line_breaks: \r\n, \r, U+2028, U+2029, U+0085 -> \n.
void fix_line_breaks(std::u32string& text);
// fixes.remove_terminal_escapes: ESC [ (digits or ;)* letter.
void remove_terminal_escapes(std::u32string& text);
// fixes.remove_control_chars: C0 controls but \t \n \f \r, DEL, U+206A-U+206F, U+FEFF,
// U+FFF9-U+FFFC.
void remove_control_chars(std::u32string& text);

// True when one of the fixers above rewrites character c wherever it stands. The others react
// only to characters below U+00A0 ('&', '\r', ESC, C0 and C1 controls, DEL).
inline bool fixer_rewrites(char32_t c) {
  if (c < 0x132) return false;
  if (c <= 0x1F3) return c <= 0x133 || c == 0x149 || (c >= 0x1C4 && c <= 0x1CC) || c >= 0x1F1;
  if (c < 0x2018) return c == 0x2BC;
  if (c <= 0x206F) return c <= 0x201F || c == 0x2028 || c == 0x2029 || c >= 0x206A;
  if (c < 0xFB00) return c == 0x3000;
  return c <= 0xFB06 || c == 0xFEFF || (c >= 0xFF01 && c <= 0xFFEF) || (c >= 0xFFF9 && c <= 0xFFFC);
}

}  // namespace clipkit::text::ftfy
