// ftfy.fix_text with ftfy 6.3.1's default TextFixerConfig:
//
//   The text is cut into segments after each '\n' (and every 1,000,000 code points, its
//   max_decode_length). HTML unescaping is "auto": it stays on until a segment containing '<'
//   is met, and is then off for that segment and every later one. Each segment goes through
//   fix_and_explain, which repeats this sequence until a round changes nothing:
//     unescape_html (if on), fix_encoding, fix_c1_controls, fix_latin_ligatures,
//     fix_character_width, uncurl_quotes, fix_line_breaks, fix_surrogates, remove_terminal_escapes,
//     remove_control_chars, NFC.
//   fix_surrogates has nothing to do on text that came from valid UTF-8.
#include <string>
#include <string_view>

#include "text/clean.h"
#include "text/ftfy_badness.h"
#include "text/ftfy_encoding.h"
#include "text/ftfy_fixes.h"
#include "text/unicode_nfc.h"
#include "text/unicode_props.h"
#include "text/utf8.h"

namespace clipkit::text {
namespace {

constexpr std::size_t kMaxDecodeLength = 1000000;
// Each round either changes the text towards a fixed point or ends the loop; the bound only
// guarantees termination on input crafted to cycle.
constexpr int kMaxRounds = 32;

// True when a round of fix_segment would leave text as it is, so the loop can be skipped: no
// character any fixer rewrites, nothing NFC touches, and no mojibake by the badness heuristic
// (without which fix_encoding returns its input).
bool settled(const std::u32string& text, bool unescape) {
  bool ascii = true;
  for (char32_t c : text) {
    if (c < 0x80) {
      if (c >= 0x20 && c < 0x7F) {
        if (c == '&' && unescape) return false;
      } else if (c != '\t' && c != '\n' && c != '\f') {
        return false;  // \r, ESC, other controls, DEL
      }
      continue;
    }
    ascii = false;
    if (c <= 0x9F || ftfy::fixer_rewrites(c) || unicode::is_nfc_unstable(c)) return false;
  }
  return ascii || !ftfy::is_bad(text.data(), text.size());
}

std::u32string fix_segment(std::u32string text, bool unescape) {
  if (settled(text, unescape)) return text;
  for (int round = 0; round < kMaxRounds; ++round) {
    const std::u32string orig = text;
    if (unescape) ftfy::unescape_html(text);
    text = ftfy::fix_encoding(std::move(text));
    ftfy::fix_c1_controls(text);
    ftfy::fix_latin_ligatures(text);
    ftfy::fix_character_width(text);
    ftfy::uncurl_quotes(text);
    ftfy::fix_line_breaks(text);
    ftfy::remove_terminal_escapes(text);
    ftfy::remove_control_chars(text);
    unicode::nfc_inplace(text);
    if (text == orig) break;
  }
  return text;
}

// Plain printable ASCII (plus tab, newline, form feed) without '&' is a fixed point of every
// step, whatever the segmentation: the common case returns without decoding anything.
bool nothing_to_fix(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7F) {
      if (c == '&') return false;
      continue;
    }
    if (c != '\t' && c != '\n' && c != '\f') return false;
  }
  return true;
}

}  // namespace

std::string ftfy_fix_text(std::string_view text) {
  if (nothing_to_fix(text)) return std::string(text);

  std::u32string cps;
  decode_utf8(text, cps);
  std::u32string out;
  out.reserve(cps.size());
  bool unescape = true;
  std::size_t pos = 0;
  while (pos < cps.size()) {
    const std::size_t newline = cps.find(U'\n', pos);
    std::size_t end = newline == std::u32string::npos ? cps.size() : newline + 1;
    if (end - pos > kMaxDecodeLength) end = pos + kMaxDecodeLength;
    std::u32string segment = cps.substr(pos, end - pos);
    if (unescape && segment.find(U'<') != std::u32string::npos) unescape = false;
    out += fix_segment(std::move(segment), unescape);
    pos = end;
  }
  std::string result;
  append_utf8(result, out);
  return result;
}

}  // namespace clipkit::text
