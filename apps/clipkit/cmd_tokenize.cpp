// clipkit tokenize: token ids of texts, as OpenAI's clip.tokenize lays them out (one JSON array
// per text, SOT ... EOT padded with 0 to the context length).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "text/tokenizer.h"

namespace clipkit::app {
namespace {

struct TokenizeArgs {
  std::vector<std::string> texts, files;
  int context = 77;
  bool truncate = false, chunks = false, no_pad = false, hf = false, replace_invalid = false;
  std::optional<int32_t> pad_id;
  std::string vocab;
};

void append_row(std::string& out, const std::vector<int32_t>& row) {
  out.push_back('[');
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i) out.append(", ");
    out.append(std::to_string(row[i]));
  }
  out.push_back(']');
}

class Printer {
 public:
  Printer(const text::Tokenizer& tok, const text::TokenizeOptions& opts, bool chunks)
      : tok_(tok), opts_(opts), chunks_(chunks) {}

  // Tokenizes one input and prints its line; `where` names it in error messages.
  void operator()(const std::string& text, const std::string& where) {
    std::vector<std::vector<int32_t>> rows;
    try {
      rows = tok_.tokenize(text, opts_);
    } catch (const Error& e) {
      std::fflush(stdout);
      fail(where, ": ", e.what());
    }
    std::string line;
    if (chunks_) line.push_back('[');
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (r) line.append(", ");
      append_row(line, rows[r]);
    }
    if (chunks_) line.push_back(']');
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
  }

 private:
  const text::Tokenizer& tok_;
  const text::TokenizeOptions& opts_;
  bool chunks_;
};

void each_line(std::istream& in, const std::string& name, Printer& print) {
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    print(line, name + " line " + std::to_string(n));
  }
  CLIPKIT_CHECK(!in.bad(), "cannot read ", name);
}

int run_tokenize(const TokenizeArgs& a) {
  CLIPKIT_CHECK(!a.texts.empty() || !a.files.empty(), "nothing to tokenize: give --text or --text-file");
  CLIPKIT_CHECK(!(a.truncate && a.chunks), "--truncate and --chunks exclude each other");
  text::TokenizerOptions topts;
  topts.normalization = a.hf ? text::Normalization::transformers : text::Normalization::openai;
  topts.replace_invalid_utf8 = a.replace_invalid;
  const text::Tokenizer tok =
      a.vocab.empty() ? text::Tokenizer::openai(topts) : text::Tokenizer::from_folder(a.vocab, topts);

  text::TokenizeOptions opts;
  opts.context_length = a.context;
  opts.overflow = a.chunks ? text::Overflow::chunks : a.truncate ? text::Overflow::truncate : text::Overflow::error;
  // OpenAI pads with 0; transformers with the folder's pad token, else <|endoftext|>.
  opts.pad_id = a.pad_id ? *a.pad_id : tok.default_pad_id();
  if (a.no_pad) opts.pad_id.reset();

  Printer print(tok, opts, a.chunks);
  for (std::size_t i = 0; i < a.texts.size(); ++i) print(a.texts[i], "--text " + std::to_string(i + 1));
  for (const std::string& f : a.files) {
    if (f == "-") {
      each_line(std::cin, "stdin", print);
    } else {
      std::ifstream in(f, std::ios::binary);
      CLIPKIT_CHECK(in.good(), "cannot open --text-file ", f);
      each_line(in, f, print);
    }
  }
  return 0;
}

const Registrar reg{Command{
    "tokenize",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<TokenizeArgs>();
      sub.add_option("--text,-t", a->texts, "A text to tokenize (repeat for several)");
      sub.add_option("--text-file,-f", a->files, "A file with one text per line ('-' reads stdin)");
      sub.add_option("--context", a->context, "Context length: ids per row, SOT and EOT included")
          ->default_val(77)
          ->check(CLI::Range(3, 1 << 20));
      sub.add_flag("--truncate", a->truncate,
                   "Cut an over-long text to the context, ending it with EOT (clip.tokenize(truncate=True)); "
                   "without it an over-long text is an error");
      sub.add_flag("--chunks", a->chunks,
                   "Split an over-long text into rows of context-2 tokens, each wrapped in SOT/EOT "
                   "(long Stable Diffusion prompts); prints one array of rows per text");
      sub.add_flag("--no-pad", a->no_pad, "Do not pad rows: each ends at its EOT");
      sub.add_option("--pad-id", a->pad_id,
                     "Padding id (default 0; with --hf the folder's pad token, else 49407, as transformers pads)");
      sub.add_flag("--hf", a->hf,
                   "transformers' CLIPTokenizer clean-up (NFC + white space + lower case; no ftfy or HTML "
                   "unescaping) instead of OpenAI's");
      sub.add_option("--vocab", a->vocab,
                     "A model folder's tokenizer files (tokenizer.json, or vocab.json + merges.txt, or "
                     "bpe_simple_vocab_16e6.txt.gz) instead of the built-in vocabulary");
      sub.add_flag("--replace-invalid", a->replace_invalid,
                   "Replace invalid UTF-8 with U+FFFD (as Python's errors='replace') instead of failing");
      return [a] { return run_tokenize(*a); };
    },
    "Token ids of texts, exactly as CLIP's tokenizer gives them: one JSON array per text",
    "  clipkit tokenize --text \"a photo of a cat\"\n"
    "      [49406, 320, 1125, 539, 320, 2368, 49407, 0, 0, ... 0]   (77 ids)\n"
    "  clipkit tokenize --no-pad -t \"a photo of a cat\" -t \"a diagram\"\n"
    "      [49406, 320, 1125, 539, 320, 2368, 49407]\n"
    "      [49406, 320, 22697, 49407]\n"
    "  clipkit tokenize --truncate --text-file captions.txt > ids.jsonl   # one text per line\n"
    "  cat prompts.txt | clipkit tokenize --chunks --hf --text-file -      # SD: 75-token chunks\n"
    "  clipkit tokenize --hf --vocab sdxl/tokenizer_2 -t \"an astronaut\"   # pads with \"!\" = 0\n"}};

}  // namespace
}  // namespace clipkit::app
