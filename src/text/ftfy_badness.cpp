// badness.BADNESS_RE is an alternation of short patterns over character classes; is_bad asks
// whether any alternative matches anywhere, so each position is tested against every
// alternative that can start with its character. The alternatives are numbered as they appear
// in ftfy 6.3.1's regex.
#include "text/ftfy_badness.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "text/ftfy_data.h"
#include "text/unicode_props.h"

namespace clipkit::text::ftfy {

namespace {

// Every classified character but four lies below U+2600; those get a dense table. (kClassEntries
// is constant-initialised, so it is complete before this table is built at start-up.)
constexpr char32_t kDense = 0x2600;
struct DenseClasses {
  std::array<std::uint32_t, kDense> bits{};
  DenseClasses() {
    for (std::size_t i = 0; i < kClassEntries_size; ++i) {
      if (kClassEntries[i].cp < kDense) bits[kClassEntries[i].cp] = kClassEntries[i].bits;
    }
  }
};
const DenseClasses kDenseClasses;

}  // namespace

std::uint32_t char_classes(char32_t c) {
  if (c < kDense) return kDenseClasses.bits[c];
  if (c != 0xF8FF && c != 0xFB01 && c != 0xFB02 && c != 0xFFFD) return 0;
  const ClassEntry* end = kClassEntries + kClassEntries_size;
  const ClassEntry* it = std::lower_bound(kClassEntries, end, c,
                                          [](const ClassEntry& e, char32_t v) { return e.cp < v; });
  return (it != end && it->cp == c) ? it->bits : 0;
}

namespace {

constexpr std::uint32_t C1 = kC1, BAD = kBad, LAW = kLaw, CUR = kCurrency, SP = kStartPunct,
                        EP = kEndPunct, NUM = kNumeric, KAO = kKaomoji, UA = kUpperAccented,
                        LA = kLowerAccented, UC = kUpperCommon, LC = kLowerCommon, BOX = kBox,
                        COMMON = kCommon;
constexpr char32_t kNone = 0xFFFFFFFF;  // past the end: matches no class and no literal

bool any_of(char32_t c, std::initializer_list<char32_t> set) {
  return std::find(set.begin(), set.end(), c) != set.end();
}
bool ascii_letter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool ascii_lower(char32_t c) { return c >= 'a' && c <= 'z'; }

// Alternatives whose first character is an ASCII letter, '.', ',', '?', '!' or \s.
bool ascii_start(char32_t c, std::uint32_t b1, std::uint32_t b2, char32_t c1, char32_t c2,
                 char32_t c3) {
  if (ascii_letter(c)) {
    if ((b1 & (LC | UC)) && (b2 & BAD)) return true;  // 3: [a-zA-Z][lower/upper common][bad]
  }
  if (ascii_lower(c)) {
    if ((b1 & UA) && (b2 & (SP | CUR))) return true;  // 13: [a-z][upper acc][start p, currency]
    // 32: [a-z]\s?[ÃÂ][ ]
    if ((c1 == 0xC3 || c1 == 0xC2) && c2 == ' ') return true;
    if (c1 != kNone && unicode::is_py_space(c1) && (c2 == 0xC3 || c2 == 0xC2) && c3 == ' ') {
      return true;
    }
  }
  // 34: [a-z.,?!{end punct}] Â [ {start punct}{end punct}]  (the end-punct start is tested by
  // the caller)
  if ((ascii_lower(c) || c == '.' || c == ',' || c == '?' || c == '!') && c1 == 0xC2 &&
      (c2 == ' ' || (b2 & (SP | EP)))) {
    return true;
  }
  return false;
}

}  // namespace

bool is_bad(const char32_t* t, std::size_t n) {
  // Only the mojibake categories matter here, not the UTF-8 detector's classes.
  constexpr std::uint32_t kMask = COMMON | C1 | BAD | LAW | CUR | SP | EP | NUM | KAO | UA | LA | UC |
                                  LC | BOX;
  auto at = [&](std::size_t k) { return k < n ? t[k] : kNone; };
  auto cls = [&](std::size_t k) { return k < n ? (char_classes(t[k]) & kMask) : 0u; };
  for (std::size_t i = 0; i < n; ++i) {
    const char32_t c = t[i];
    const char32_t c1 = at(i + 1);
    if (c < 0x80) {
      // ASCII starts only alternatives 3, 8, 13, 32 and 34, and all of them but 32 (through its
      // \s) need a non-ASCII second character.
      if (c1 < 0x80) {
        if (ascii_lower(c) && unicode::is_py_space(c1) && (at(i + 2) == 0xC3 || at(i + 2) == 0xC2) &&
            at(i + 3) == ' ') {
          return true;
        }
        continue;
      }
      if (c1 == kNone) continue;
    }
    const std::uint32_t b = char_classes(c) & kMask;
    const bool space = unicode::is_py_space(c);
    const bool ascii_head =
        c < 0x80 && (ascii_letter(c) || c == '.' || c == ',' || c == '?' || c == '!');
    // Every alternative starts with a classified character, an ASCII head or \s.
    if (b == 0 && !ascii_head && !space) continue;
    const char32_t c2 = at(i + 2), c3 = at(i + 3);
    const std::uint32_t b1 = cls(i + 1), b2 = cls(i + 2);

    if (ascii_head && ascii_start(c, b1, b2, c1, c2, c3)) return true;
    // 8: \s [upper accented] [currency]
    if (space && (b1 & UA) && (b2 & CUR)) return true;
    if (b == 0) continue;

    if (b & C1) return true;                                                      // 1
    if ((b & (BAD | LA | UA | BOX | SP | EP | CUR | NUM | LAW)) && (b1 & BAD)) return true;  // 2
    if ((b & BAD) && (b1 & (LA | UA | BOX | SP | EP | CUR | NUM | LAW))) return true;  // 4
    if ((b & (LA | LC | BOX | EP | CUR | NUM)) && (b1 & UA)) return true;         // 5
    if ((b & (BOX | EP | CUR | NUM)) && (b1 & LA)) return true;                   // 6
    if ((b & (LA | BOX | EP)) && (b1 & CUR)) return true;                         // 7
    if ((b & (UA | BOX)) && (b1 & (NUM | LAW))) return true;                      // 9
    if ((b & (LA | UA | BOX | CUR | EP)) && (b1 & SP) && (b2 & NUM)) return true;  // 10
    if ((b & (LA | UA | CUR | NUM | BOX | LAW)) && (b1 & EP) && (b2 & SP)) return true;  // 11
    if ((b & (CUR | NUM | BOX)) && (b1 & SP)) return true;                        // 12
    if ((b & BOX) && (b1 & (KAO | EP))) return true;                              // 14, 16
    if ((b & (LA | UA | CUR | NUM | SP | EP | LAW)) && (b1 & BOX)) return true;   // 15
    // 17: [lower/upper accented] [start/end punct] \w
    if ((b & (LA | UA)) && (b1 & (SP | EP)) && c2 != kNone && unicode::is_word(c2)) return true;
    // 18: [Œœ][^A-Za-z]
    if ((c == 0x152 || c == 0x153) && c1 != kNone && !ascii_letter(c1)) return true;
    if ((b & UA) && c1 == 0xB0) return true;                                      // 19: [UA]°
    // 20: [ÂÃÎÐ][€œŠš¢£Ÿž\xa0\xad®©°·»{start punct}{end punct}–—´]
    if (any_of(c, {0xC2, 0xC3, 0xCE, 0xD0}) &&
        (any_of(c1, {0x20AC, 0x153, 0x160, 0x161, 0xA2, 0xA3, 0x178, 0x17E, 0xA0, 0xAD, 0xAE,
                     0xA9, 0xB0, 0xB7, 0xBB, 0x2013, 0x2014, 0xB4}) ||
         (b1 & (SP | EP)))) {
      return true;
    }
    if (c == 0xD7 && (c1 == 0xB2 || c1 == 0xB3)) return true;  // 21: × [²³]
    // 22: ([ØÙ] [{common}{currency}{bad}{numeric}{start punct}ŸŠ®°µ»]) twice
    if (c == 0xD8 || c == 0xD9) {
      auto arabic = [&](char32_t x, std::uint32_t bx) {
        return (bx & (COMMON | CUR | BAD | NUM | SP)) || any_of(x, {0x178, 0x160, 0xAE, 0xB0, 0xB5, 0xBB});
      };
      if (arabic(c1, b1) && (c2 == 0xD8 || c2 == 0xD9) && arabic(c3, cls(i + 3))) return true;
    }
    if (c == 0xE0 && any_of(c1, {0xB2, 0xB5, 0xB9, 0xBC, 0xBD, 0xBE})) return true;  // 23: à[²µ¹¼½¾]
    // 24: √[±∂†≠®™´≤≥¥µø]
    if (c == 0x221A && any_of(c1, {0xB1, 0x2202, 0x2020, 0x2260, 0xAE, 0x2122, 0xB4, 0x2264,
                                   0x2265, 0xA5, 0xB5, 0xF8})) {
      return true;
    }
    if (c == 0x2248 && (c1 == 0xB0 || c1 == 0xA2)) return true;  // 25: ≈[°¢]
    if (c == 0x201A) {
      // 26: ‚Ä[ìîïòôúùû†°¢π]
      if (c1 == 0xC4 && any_of(c2, {0xEC, 0xEE, 0xEF, 0xF2, 0xF4, 0xFA, 0xF9, 0xFB, 0x2020, 0xB0,
                                    0xA2, 0x3C0})) {
        return true;
      }
      // 27: ‚[âó][àä°ê]
      if ((c1 == 0xE2 || c1 == 0xF3) && any_of(c2, {0xE0, 0xE4, 0xB0, 0xEA})) return true;
    }
    if (c == 0x432 && c1 == 0x402) return true;  // 28: вЂ
    // 29: [ВГРС][{c1}{bad}{start punct}{end punct}{currency}°µ][ВГРС]
    const std::initializer_list<char32_t> cyr = {0x412, 0x413, 0x420, 0x421};
    if (any_of(c, cyr) && ((b1 & (C1 | BAD | SP | EP | CUR)) || c1 == 0xB0 || c1 == 0xB5) &&
        any_of(c2, cyr)) {
      return true;
    }
    // 30: ГўВЂВ.[A-Za-z ]
    if (c == 0x413 && c1 == 0x45E && c2 == 0x412 && c3 == 0x402 && at(i + 4) == 0x412 &&
        at(i + 5) != kNone && at(i + 5) != '\n' && (ascii_letter(at(i + 6)) || at(i + 6) == ' ')) {
      return true;
    }
    if (c == 0xC3 && (c1 == 0xA0 || c1 == 0xA1)) return true;  // 31: Ã[\xa0¡]
    if (i == 0 && (c == 0xC3 || c == 0xC2) && c1 == ' ') return true;  // 33: ^[ÃÂ][ ]
    // 34 with an end-punctuation start: [{end punct}] Â [ {start punct}{end punct}]
    if ((b & EP) && c1 == 0xC2 && (c2 == ' ' || (b2 & (SP | EP)))) return true;
    if (c == 0x3B2 && c1 == 0x20AC && any_of(c2, {0x2122, 0xA0, 0x386, 0xAD, 0xAE, 0xB0})) {
      return true;  // 35: β€[™\xa0Ά\xad®°]
    }
    // 36: [ΒΓΞΟ][{c1}{bad}{start punct}{end punct}{currency}°][ΒΓΞΟ]
    const std::initializer_list<char32_t> greek = {0x392, 0x393, 0x39E, 0x39F};
    if (any_of(c, greek) && ((b1 & (C1 | BAD | SP | EP | CUR)) || c1 == 0xB0) && any_of(c2, greek)) {
      return true;
    }
    if (c == 0x101 && c1 == 0x20AC) return true;  // 37: ā€
  }
  return false;
}

}  // namespace clipkit::text::ftfy
