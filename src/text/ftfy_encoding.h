// ftfy 6.3.1's fix_encoding with its default configuration: detect mojibake with the badness
// heuristic and undo it by re-encoding in the single-byte codec that produced it and decoding as
// UTF-8, repeating until nothing changes.
#pragma once

#include <string>

namespace clipkit::text::ftfy {

// ftfy.fix_encoding(text).
std::u32string fix_encoding(std::u32string text);

// fixes.fix_c1_controls: C1 control characters read as sloppy Windows-1252.
void fix_c1_controls(std::u32string& text);

}  // namespace clipkit::text::ftfy
