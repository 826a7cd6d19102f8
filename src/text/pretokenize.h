// CLIP's pre-tokenizer: splits clean text into the pieces that BPE encodes, exactly as the
// reference finds them with the `regex` module,
//
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// (findall: at each position the first alternative that matches wins, characters no alternative
// matches are skipped). It is a hand-written scanner over Unicode general categories (utf8proc,
// Unicode 15.0, the version of the reference's regex module) with \s = White_Space.
//
// OpenAI compiles the pattern with IGNORECASE; the transformers/tokenizers pipeline does not.
// Case-insensitive matching is what makes U+017F (long s) match the `s` of `'s` and of
// `<|startoftext|>`, and what makes U+0345 (combining ypogegrammeni, whose case partners are
// Greek iota) match no alternative at all: the single-property class [\p{L}] tests the character
// itself, while the negated class also rejects a character whose case partner is a letter.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace clipkit::text {

enum class PatternCase { insensitive, sensitive };

struct Piece {
  uint32_t begin = 0;  // byte offset in the scanned text
  uint32_t size = 0;   // byte length
  // Matched by the <|startoftext|> / <|endoftext|> alternative. With case-insensitive
  // matching the piece may differ from the literal (e.g. "<|ſtartoftext|>").
  bool special = false;
};

// Appends the pieces of `text` (valid UTF-8, at most 4 GiB) to `out`.
void pretokenize(std::string_view text, PatternCase mode, std::vector<Piece>& out);

// Convenience for tests and tools: the pieces as string views into `text`.
std::vector<std::string_view> pretokenize(std::string_view text, PatternCase mode);

// Character classes of the pattern, exposed for tests.
enum class CharClass : uint8_t { space, letter, number, other, none };
CharClass char_class(char32_t cp, PatternCase mode);

}  // namespace clipkit::text
