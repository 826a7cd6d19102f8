// The normalizer of transformers' CLIPTokenizer (tokenizers library, transformers 5):
//   NFC -> Replace(\s+ -> " ") -> Lowercase
// No ftfy and no HTML unescaping. tokenizers lower-cases character by character (Rust's
// char::to_lowercase), so unlike Python's str.lower() a final capital sigma becomes σ, never ς.
#pragma once

#include <string>
#include <string_view>

namespace clipkit::text {

// `text` must be valid UTF-8.
std::string transformers_normalize(std::string_view text);

}  // namespace clipkit::text
