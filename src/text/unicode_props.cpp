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

int lower_code_point(char32_t c, char32_t out[2]) {
  if (c < 0x80) {
    out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
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
