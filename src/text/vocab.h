// BPE vocabularies as CLIP checkpoints ship them, loaded into one form: the token strings by id,
// the merges in rank order as id triples, and the added (special) tokens.
//
// Sources:
//  * OpenAI's bpe_simple_vocab_16e6.txt.gz (also embedded in the library): derived exactly as
//    simple_tokenizer.py derives it — header line, merge lines 1..48894, vocabulary = the 256
//    byte symbols in bytes_to_unicode order, the same with "</w>", the merge results, then
//    <|startoftext|> and <|endoftext|>; a string listed twice keeps its last id (Python dict).
//  * transformers' CLIPTokenizer files: vocab.json ({token: id}) + merges.txt, with the added
//    and special tokens of tokenizer_config.json, added_tokens.json, special_tokens_map.json.
//  * tokenizers' tokenizer.json: model.vocab, model.merges ("a b" strings or [a, b] pairs),
//    added_tokens (ids may lie beyond the BPE vocabulary), and the same side files.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace clipkit::text {

// GPT-2/CLIP's reversible byte -> printable code point map (bytes_to_unicode).
char32_t byte_to_unicode(uint8_t b);
// Inverse map; returns -1 for a code point that is not a byte symbol.
int unicode_to_byte(char32_t cp);

// An added token as tokenizers describes it. "single_word" is not supported (no CLIP tokenizer
// sets it); such a token is matched anywhere.
struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = true;
  bool normalized = false;  // matched in the normalized (lower-cased) text rather than the raw text
  bool lstrip = false;      // swallows white space to its left
  bool rstrip = false;      // swallows white space to its right
};

struct Merge {
  int32_t left, right, result;
};

// Hash for string keys that also accepts string_view lookups without a copy.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Vocab {
  std::vector<std::string> tokens;  // id -> token ("" where no token has that id)
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids;  // token -> id
  std::vector<Merge> merges;  // in rank order; a pair listed twice keeps its last rank (see bpe.h)
  std::vector<AddedToken> added;  // literal tokens beyond the BPE, e.g. tokenizer.json's
  std::array<int32_t, 256> byte_ids{};      // id of the symbol of byte b
  std::array<int32_t, 256> byte_eow_ids{};  // id of the symbol of byte b followed by "</w>"
  int32_t sot = -1, eot = -1;  // <|startoftext|>, <|endoftext|>
  int32_t pad = -1;            // the pad token the files name (transformers' pad_token), or -1
  bool ignore_merges = false;  // tokenizers' option: a word found whole in the vocabulary skips BPE
  std::string source;          // what it was loaded from, for messages

  std::size_t size() const;  // 1 + the largest id (added tokens included)
  // Token string of an id (added tokens included); nullptr when no token has that id.
  const std::string* token(int32_t id) const;
  int32_t find(std::string_view token) const;  // -1 when absent
};

// The vocabulary compiled into the library (OpenAI's bpe_simple_vocab_16e6.txt.gz).
Vocab load_embedded_vocab();
// OpenAI's merges file, gzip-compressed (".gz") or plain text.
Vocab load_openai_bpe_file(const std::filesystem::path& path);
// The text of OpenAI's merges file (already decompressed); `source` names it in messages.
Vocab parse_openai_bpe(std::string_view text, const std::string& source);
Vocab load_vocab_merges(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt);
Vocab load_tokenizer_json(const std::filesystem::path& tokenizer_json);
// A model folder: tokenizer.json, else vocab.json + merges.txt, else bpe_simple_vocab_16e6.txt.gz.
Vocab load_vocab_folder(const std::filesystem::path& dir);

// Decompresses a gzip stream; throws Error naming `source` when it is damaged. With
// `max_lines`, stops once that many '\n' have been produced (the output may run past the last
// one): OpenAI's file holds 262 145 lines of which only the first 48 895 are used.
std::string gunzip(std::string_view data, const std::string& source,
                   std::size_t max_lines = std::string::npos);

}  // namespace clipkit::text
