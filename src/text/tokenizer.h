// CLIP's tokenizer: OpenAI's simple_tokenizer.py + clip.tokenize, id for id.
//
//   text -> UTF-8 check -> clean-up -> pre-tokenizer -> byte-level BPE -> ids
//   ids  -> [SOT] ids [EOT], cut or split to the context length, padded
//
// Clean-up is either OpenAI's (ftfy, HTML unescaping twice, white space, Python lower(); see
// clean.h) or, as an option, transformers' CLIPTokenizer's (NFC, white space, lower-case; see
// hf_normalize.h), which pipelines built on transformers reproduce.
//
// A Tokenizer is immutable after construction and safe to use from several threads at once.
//
//   auto tok = clipkit::text::Tokenizer::openai();
//   auto ids = tok.encode("a photo of a cat");          // {320, 1125, 539, 320, 2368}
//   auto rows = tok.tokenize("a photo of a cat");       // one row of 77 ids, SOT ... EOT 0 0 ...
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace clipkit::text {

struct Vocab;

enum class Normalization {
  openai,        // ftfy + html.unescape x2 + white space + lower (the reference)
  transformers,  // NFC + white space + lower; added tokens matched literally first
};

struct TokenizerOptions {
  Normalization normalization = Normalization::openai;
  // Invalid UTF-8 input: false throws an Error naming the offset of the first bad byte; true
  // replaces each maximal ill-formed subpart with U+FFFD (Python's errors="replace").
  bool replace_invalid_utf8 = false;
};

enum class Overflow {
  error,     // throw when SOT + tokens + EOT exceeds the context (clip.tokenize's default)
  truncate,  // keep the first context_length ids, then make the last one EOT (truncate=True)
  chunks,    // split the tokens into chunks of context_length - 2, each wrapped in SOT/EOT
};

struct TokenizeOptions {
  int context_length = 77;
  Overflow overflow = Overflow::error;
  // Padding after EOT: 0 in OpenAI's tokenize, 49407 (EOT) in transformers, 0 in SDXL's second
  // tokenizer. nullopt leaves rows unpadded (each ends at its EOT).
  std::optional<int32_t> pad_id = 0;
};

class Tokenizer {
 public:
  // OpenAI's vocabulary, compiled into the library.
  static Tokenizer openai(TokenizerOptions options = {});
  // A model folder's own tokenizer files: tokenizer.json, or vocab.json + merges.txt (with
  // tokenizer_config.json / added_tokens.json), or bpe_simple_vocab_16e6.txt.gz.
  static Tokenizer from_folder(const std::filesystem::path& dir, TokenizerOptions options = {});
  // A vocabulary already loaded (see vocab.h).
  static Tokenizer from_vocab(Vocab vocab, TokenizerOptions options = {});

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // BPE ids of `text`, without SOT/EOT. Special-token strings in the text are honoured.
  std::vector<int32_t> encode(std::string_view text) const;
  // The same for text that has already been cleaned (the `clean` string of the reference: the
  // pre-tokenizer runs on it directly). Must be valid UTF-8.
  std::vector<int32_t> encode_cleaned(std::string_view cleaned) const;

  // Rows of context_length ids (fewer when unpadded): one row, or several in chunks mode.
  std::vector<std::vector<int32_t>> tokenize(std::string_view text, const TokenizeOptions& options = {}) const;
  // The rows for BPE ids already computed (what tokenize() does after encode()).
  std::vector<std::vector<int32_t>> make_rows(std::span<const int32_t> ids, const TokenizeOptions& options = {}) const;

  // simple_tokenizer's decode: token strings joined, bytes decoded with U+FFFD for bad UTF-8,
  // every "</w>" turned into a space. Throws on an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids) const;

  std::size_t vocab_size() const;
  int32_t sot_id() const;
  int32_t eot_id() const;
  // The padding the reference of this mode uses: 0 for OpenAI's tokenize; for transformers the
  // folder's pad_token (SDXL's second tokenizer: "!" = 0), else <|endoftext|>.
  int32_t default_pad_id() const;
  const TokenizerOptions& options() const;
  const Vocab& vocab() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  void encode_segment(std::string_view text, std::vector<int32_t>& out) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clipkit::text
