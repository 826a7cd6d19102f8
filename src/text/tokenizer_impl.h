// The state behind a Tokenizer, shared by tokenizer.cpp and tokenizer_encode.cpp. Internal.
#pragma once

#include <string>
#include <vector>

#include "text/bpe.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

namespace clipkit::text {

struct Tokenizer::Impl {
  Impl(Vocab v, TokenizerOptions o);

  Vocab vocab;
  TokenizerOptions options;
  Bpe bpe;  // refers to `vocab`, so Impl never moves (it lives behind a unique_ptr)
  std::string sot_text, eot_text;  // "<|startoftext|>", "<|endoftext|>"
  // Added tokens matched in the raw text before clean-up, and (transformers) those matched in
  // the normalized text. In OpenAI mode only tokens outside the BPE vocabulary are among them:
  // the reference finds <|startoftext|>/<|endoftext|> with its pattern after clean-up.
  std::vector<const AddedToken*> raw_added;
  std::vector<const AddedToken*> normalized_added;

  // Pre-tokenizes and BPE-encodes text that is already cleaned or normalized.
  void encode_normalized(std::string_view text, std::vector<int32_t>& out) const;
  void encode_pieces(std::string_view text, std::vector<int32_t>& out) const;
};

}  // namespace clipkit::text
