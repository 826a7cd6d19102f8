// Character properties exactly as Python 3.11 (Unicode 14.0.0) sees them, for the parts of the
// clean-up that follow Python's own rules: str.lower(), str.strip()/str.isspace(), and the \w, \d,
// \s classes of the `re` module used inside ftfy. Tables come from scripts/gen_text_tables.py.
#pragma once

#include <cstddef>
#include <cstdint>

namespace clipkit::text::unicode {

struct CodepointRange {
  char32_t lo, hi;  // inclusive
};

// One entry of str.lower(): `cp` lower-cases to `first` followed by `second` (0 when single).
struct LowerEntry {
  char32_t cp, first, second;
};

extern const LowerEntry kLowerMap[];
extern const std::size_t kLowerMap_size;
extern const CodepointRange kCasedRanges[];
extern const std::size_t kCasedRanges_size;
extern const CodepointRange kCaseIgnorableRanges[];
extern const std::size_t kCaseIgnorableRanges_size;
extern const CodepointRange kWordRanges[];
extern const std::size_t kWordRanges_size;
extern const CodepointRange kDigitRanges[];
extern const std::size_t kDigitRanges_size;
extern const CodepointRange kPySpaceRanges[];
extern const std::size_t kPySpaceRanges_size;
extern const CodepointRange kNfcUnstableRanges[];
extern const std::size_t kNfcUnstableRanges_size;

// True when c lies in one of the sorted, disjoint ranges.
bool in_ranges(const CodepointRange* ranges, std::size_t n, char32_t c);

// Python's str.isspace(): what str.strip() removes and what `re`'s \s matches. Unlike Unicode
// White_Space it includes U+001C..U+001F.
inline bool is_py_space(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return in_ranges(kPySpaceRanges, kPySpaceRanges_size, c);
}

// Unicode White_Space: what `\s` matches in the `regex` module that CLIP's whitespace_clean uses.
inline bool is_white_space(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || c == 0x20;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// `re`'s \w for str patterns (str.isalnum() or '_').
inline bool is_word(char32_t c) {
  if (c < 0x80) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  }
  return in_ranges(kWordRanges, kWordRanges_size, c);
}

// `re`'s \d for str patterns (category Nd).
inline bool is_digit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return in_ranges(kDigitRanges, kDigitRanges_size, c);
}

// The two properties of Python's final-sigma rule.
inline bool is_cased(char32_t c) { return in_ranges(kCasedRanges, kCasedRanges_size, c); }
inline bool is_case_ignorable(char32_t c) {
  return in_ranges(kCaseIgnorableRanges, kCaseIgnorableRanges_size, c);
}

// False when c has combining class 0 and NFC_Quick_Check=Yes: text made only of such characters
// is unchanged by NFC. Nothing below U+0300 qualifies.
inline bool is_nfc_unstable(char32_t c) {
  return c >= 0x300 && in_ranges(kNfcUnstableRanges, kNfcUnstableRanges_size, c);
}

// str.lower() of one code point other than U+03A3: writes 1 or 2 code points to out, returns
// how many.
int lower_code_point(char32_t c, char32_t out[2]);

}  // namespace clipkit::text::unicode
