// Python's str.lower(): the full lower-case mapping of Unicode 14 (one code point can become two,
// e.g. U+0130 -> "i" U+0307) and the context rule for capital sigma.
#include <string>
#include <string_view>

#include "text/clean.h"
#include "text/unicode_props.h"
#include "text/unicode_utf8.h"

namespace clipkit::text {
namespace {

// CPython's handle_capital_sigma: U+03A3 lower-cases to final U+03C2 when a cased letter precedes
// it and none follows, skipping case-ignorable characters (apostrophes, marks, ...) both ways.
char32_t lower_sigma(const std::u32string& s, std::size_t i) {
  std::size_t j = i;
  bool final_sigma = false;
  while (j > 0) {
    const char32_t c = s[j - 1];
    if (!unicode::is_case_ignorable(c)) {
      final_sigma = unicode::is_cased(c);
      break;
    }
    --j;
  }
  if (final_sigma) {
    std::size_t k = i + 1;
    while (k < s.size() && unicode::is_case_ignorable(s[k])) ++k;
    final_sigma = k == s.size() || !unicode::is_cased(s[k]);
  }
  return final_sigma ? 0x3C2 : 0x3C3;
}

}  // namespace

std::string python_lower(std::string_view text) {
  std::string out(text);
  std::size_t i = 0;
  for (; i < out.size(); ++i) {
    const auto b = static_cast<unsigned char>(out[i]);
    if (b >= 0x80) break;
    if (b >= 'A' && b <= 'Z') out[i] = static_cast<char>(b + 32);
  }
  if (i == out.size()) return out;

  // Some non-ASCII text: work on code points, since sigma looks at its neighbours. The ASCII
  // prefix [0, i) is already lower-cased in `out` and is i code points long.
  std::u32string cps;
  unicode::decode_utf8(text, cps);
  out.resize(i);
  char32_t low[2];
  for (std::size_t k = i; k < cps.size(); ++k) {
    const char32_t c = cps[k];
    if (c == 0x3A3) {
      unicode::append_utf8(out, lower_sigma(cps, k));
      continue;
    }
    const int n = unicode::lower_code_point(c, low);
    for (int m = 0; m < n; ++m) unicode::append_utf8(out, low[m]);
  }
  return out;
}

}  // namespace clipkit::text
