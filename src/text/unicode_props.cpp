#include <algorithm>

#include "text/unicode_props.h"

namespace clipkit::text::unicode {

bool in_ranges(const CodepointRange* ranges, std::size_t n, char32_t c) {
  // First range whose upper end is >= c; c is inside iff that range starts at or below it.
  const CodepointRange* end = ranges + n;
  const CodepointRange* it =
      std::lower_bound(ranges, end, c, [](const CodepointRange& r, char32_t v) { return r.hi < v; });
  return it != end && it->lo <= c;
}

namespace {

// Single-code-point lower-casings below U+0590 (Latin, Greek, Cyrillic, Armenian) in a direct
// table, the common non-ASCII case; 0 marks "not single" (U+0130 is the one expansion there).
constexpr char32_t kDenseLower = 0x590;
struct DenseLower {
  char32_t to[kDenseLower];
  DenseLower() {
    for (char32_t c = 0; c < kDenseLower; ++c) to[c] = c;
    for (std::size_t i = 0; i < kLowerMap_size && kLowerMap[i].cp < kDenseLower; ++i) {
      to[kLowerMap[i].cp] = kLowerMap[i].second == 0 ? kLowerMap[i].first : 0;
    }
  }
};
const DenseLower kDenseLowerTable;

}  // namespace

int lower_code_point(char32_t c, char32_t out[2]) {
  if (c < kDenseLower && kDenseLowerTable.to[c] != 0) {
    out[0] = kDenseLowerTable.to[c];
    return 1;
  }
  const LowerEntry* end = kLowerMap + kLowerMap_size;
  const LowerEntry* it =
      std::lower_bound(kLowerMap, end, c, [](const LowerEntry& e, char32_t v) { return e.cp < v; });
  if (it == end || it->cp != c) {
    out[0] = c;
    return 1;
  }
  out[0] = it->first;
  if (it->second == 0) return 1;
  out[1] = it->second;
  return 2;
}

}  // namespace clipkit::text::unicode
