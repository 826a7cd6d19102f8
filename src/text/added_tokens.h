// Literal matching of added tokens (special tokens, words added after training such as
// textual-inversion embeddings), which transformers/tokenizers performs before BPE: the text is
// cut at every occurrence, leftmost first and the longest token when several start at the same
// place; lstrip/rstrip tokens also swallow the white space beside them.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "text/vocab.h"

namespace clipkit::text {

// Calls on_text(segment) for each stretch between matches (possibly empty ones are skipped) and
// on_token(id) for each match, in text order. `text` must be valid UTF-8.
void split_on_added_tokens(std::string_view text, const std::vector<const AddedToken*>& tokens,
                           const std::function<void(std::string_view)>& on_text,
                           const std::function<void(int32_t)>& on_token);

}  // namespace clipkit::text
