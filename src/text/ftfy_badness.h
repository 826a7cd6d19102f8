// ftfy 6.3.1's mojibake heuristic (badness.is_bad): does the text contain any character sequence
// that is far more likely to be mojibake than intended text?
#pragma once

#include <cstddef>

namespace clipkit::text::ftfy {

// badness.is_bad(text): BADNESS_RE.search(text) found a match.
bool is_bad(const char32_t* text, std::size_t n);

}  // namespace clipkit::text::ftfy
