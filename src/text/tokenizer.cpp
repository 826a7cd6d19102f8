#include "text/tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "text/added_tokens.h"
#include "text/pretokenize.h"
#include "text/tokenizer_impl.h"
#include "text/utf8.h"

namespace clipkit::text {

Tokenizer::Impl::Impl(Vocab v, TokenizerOptions o)
    : vocab(std::move(v)),
      options(o),
      bpe(vocab, o.normalization == Normalization::openai ? MergeOrder::rounds : MergeOrder::leftmost) {
  sot_text = *vocab.token(vocab.sot);
  eot_text = *vocab.token(vocab.eot);
  for (const AddedToken& t : vocab.added) {
    if (options.normalization == Normalization::openai) {
      // The reference knows only its BPE vocabulary: tokens that are part of it (the special
      // tokens, a pad token such as "!") keep the reference's treatment; only new words are
      // cut out literally.
      if (vocab.find(t.content) < 0) raw_added.push_back(&t);
    } else {
      (t.normalized ? normalized_added : raw_added).push_back(&t);
    }
  }
}

void Tokenizer::Impl::encode_pieces(std::string_view text, std::vector<int32_t>& out) const {
  const bool openai = options.normalization == Normalization::openai;
  std::vector<Piece> pieces;
  pieces.reserve(text.size() / 4 + 4);
  pretokenize(text, openai ? PatternCase::insensitive : PatternCase::sensitive, pieces);
  for (const Piece& p : pieces) {
    const std::string_view s = text.substr(p.begin, p.size);
    if (p.special) {
      if (openai) {
        // simple_tokenizer's cache maps the exact strings to themselves; any other spelling the
        // case-insensitive pattern accepted ("<|ſtartoftext|>") is BPE-encoded as one word.
        if (s == sot_text) {
          out.push_back(vocab.sot);
          continue;
        }
        if (s == eot_text) {
          out.push_back(vocab.eot);
          continue;
        }
      } else {
        // tokenizers' ByteLevel pre-tokenizer splits the piece again with GPT-2's pattern:
        // "<|", the letters, "|>".
        bpe.encode_piece(s.substr(0, 2), out);
        bpe.encode_piece(s.substr(2, s.size() - 4), out);
        bpe.encode_piece(s.substr(s.size() - 2), out);
        continue;
      }
    }
    bpe.encode_piece(s, out);
  }
}

void Tokenizer::Impl::encode_normalized(std::string_view text, std::vector<int32_t>& out) const {
  if (normalized_added.empty()) {
    encode_pieces(text, out);
    return;
  }
  split_on_added_tokens(
      text, normalized_added, [&](std::string_view seg) { encode_pieces(seg, out); },
      [&](int32_t id) { out.push_back(id); });
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_vocab(Vocab vocab, TokenizerOptions options) {
  return Tokenizer(std::make_unique<Impl>(std::move(vocab), options));
}

Tokenizer Tokenizer::openai(TokenizerOptions options) { return from_vocab(load_embedded_vocab(), options); }

Tokenizer Tokenizer::from_folder(const std::filesystem::path& dir, TokenizerOptions options) {
  return from_vocab(load_vocab_folder(dir), options);
}

std::vector<int32_t> Tokenizer::encode_cleaned(std::string_view cleaned) const {
  check_utf8(cleaned, "cleaned text");
  std::vector<int32_t> out;
  impl_->encode_normalized(cleaned, out);
  return out;
}

std::vector<std::vector<int32_t>> Tokenizer::make_rows(std::span<const int32_t> ids,
                                                       const TokenizeOptions& options) const {
  const int ctx = options.context_length;
  const bool chunks = options.overflow == Overflow::chunks;
  CLIPKIT_CHECK(ctx >= (chunks ? 3 : 2), "context length ", ctx, " leaves no room for tokens between ",
                "<|startoftext|> and <|endoftext|>");
  const std::size_t room = static_cast<std::size_t>(ctx) - 2;  // ids between SOT and EOT
  const int32_t sot = impl_->vocab.sot, eot = impl_->vocab.eot;
  std::vector<std::vector<int32_t>> rows;
  auto add_row = [&](std::span<const int32_t> part) {
    std::vector<int32_t> row;
    row.reserve(static_cast<std::size_t>(ctx));
    row.push_back(sot);
    row.insert(row.end(), part.begin(), part.end());
    row.push_back(eot);
    if (options.pad_id) row.resize(static_cast<std::size_t>(ctx), *options.pad_id);
    rows.push_back(std::move(row));
  };
  if (ids.size() <= room) {
    add_row(ids);
  } else if (options.overflow == Overflow::truncate) {
    // clip.tokenize(truncate=True): tokens[:ctx], then the last slot becomes EOT, so the row
    // keeps ctx - 2 BPE ids.
    add_row(ids.first(room));
  } else if (chunks) {
    for (std::size_t i = 0; i < ids.size(); i += room) add_row(ids.subspan(i, std::min(room, ids.size() - i)));
  } else {
    fail("text of ", ids.size(), " tokens (", ids.size() + 2, " with <|startoftext|> and <|endoftext|>) is too ",
         "long for context length ", ctx, "; truncate it or split it into chunks");
  }
  return rows;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string bytes;
  for (int32_t id : ids) {
    const std::string* tok = impl_->vocab.token(id);
    CLIPKIT_CHECK(tok, "token id ", id, " is not in the vocabulary (", vocab_size(), " ids)");
    // Byte-level tokens map back to bytes; an added token that is not made of byte symbols
    // (e.g. one from tokenizer.json) is copied as it is, as transformers does.
    const std::size_t start = bytes.size();
    bool byte_level = true;
    for (std::size_t i = 0; i < tok->size();) {
      const int b = unicode_to_byte(next_code_point(*tok, i));
      if (b < 0) {
        byte_level = false;
        break;
      }
      bytes.push_back(static_cast<char>(b));
    }
    if (!byte_level) bytes.replace(start, std::string::npos, *tok);
  }
  std::string text = replace_invalid_utf8(bytes);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, 4, "</w>") == 0) {
      out.push_back(' ');
      i += 4;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

std::size_t Tokenizer::vocab_size() const { return impl_->vocab.size(); }
int32_t Tokenizer::sot_id() const { return impl_->vocab.sot; }
int32_t Tokenizer::eot_id() const { return impl_->vocab.eot; }
int32_t Tokenizer::default_pad_id() const {
  if (impl_->options.normalization == Normalization::openai) return 0;
  return impl_->vocab.pad >= 0 ? impl_->vocab.pad : impl_->vocab.eot;
}
const TokenizerOptions& Tokenizer::options() const { return impl_->options; }
const Vocab& Tokenizer::vocab() const { return impl_->vocab; }

}  // namespace clipkit::text
