// The entry points that start from raw text. They live apart from tokenizer.cpp because the
// OpenAI clean-up (clean.h) pulls in ftfy's tables; code that only needs encode_cleaned(),
// make_rows() or decode() does not link them.
#include "core/error.h"
#include "text/added_tokens.h"
#include "text/clean.h"
#include "text/hf_normalize.h"
#include "text/tokenizer.h"
#include "text/tokenizer_impl.h"
#include "text/utf8.h"

namespace clipkit::text {

void Tokenizer::encode_segment(std::string_view text, std::vector<int32_t>& out) const {
  if (impl_->options.normalization == Normalization::openai)
    impl_->encode_normalized(clean_text(text), out);
  else
    impl_->encode_normalized(transformers_normalize(text), out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::string repaired;
  if (find_invalid_utf8(text) != std::string_view::npos) {
    if (!impl_->options.replace_invalid_utf8) check_utf8(text);  // throws, naming the offset
    repaired = replace_invalid_utf8(text);
    text = repaired;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (impl_->raw_added.empty()) {
    encode_segment(text, out);
  } else {
    split_on_added_tokens(
        text, impl_->raw_added, [&](std::string_view seg) { encode_segment(seg, out); },
        [&](int32_t id) { out.push_back(id); });
  }
  return out;
}

std::vector<std::vector<int32_t>> Tokenizer::tokenize(std::string_view text, const TokenizeOptions& options) const {
  const std::vector<int32_t> ids = encode(text);
  return make_rows(ids, options);
}

}  // namespace clipkit::text
