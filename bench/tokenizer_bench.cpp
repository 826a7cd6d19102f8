// Tokenizer throughput, single thread, reported as tokens/s (items_per_second).
//
//   EncodeCleaned/captions   pre-tokenizer + BPE on the `clean` strings of the fixture's caption
//                            cases, the headline number (the BPE cache is warm, as it is on any
//                            real caption corpus where common words repeat)
//   EncodeCleaned/sd_prompts the same on Stable Diffusion prompts
//   EncodeCleaned/cold       pseudo-words that are never repeated, so every piece misses the
//                            cache and runs the merge loop
//   Encode/captions          the whole pipeline from raw text, clean-up (ftfy etc.) included
//   Tokenize77/captions      encode + the 77-slot row, as clip.tokenize returns it
//   LoadEmbedded             decompress and index the embedded vocabulary
//
//   build/<dir>/tokenizer_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "text/tokenizer.h"
#include "text/vocab.h"

namespace {

using clipkit::text::Tokenizer;

struct Corpus {
  std::vector<std::string> raw, clean;
};

Corpus fixture_corpus(const std::vector<std::string>& categories) {
  Corpus c;
  std::ifstream f(std::string(CLIPKIT_TEST_DATA) + "/tokenizer/cases.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    const auto j = nlohmann::json::parse(line);
    for (const auto& cat : categories)
      if (j["category"] == cat) {
        c.raw.push_back(j["text"]);
        c.clean.push_back(j["clean"]);
      }
  }
  return c;
}

// Caption-shaped lines of random lower-case pseudo-words: no piece repeats often enough for the
// cache to help.
Corpus cold_corpus() {
  Corpus c;
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    const int words = 6 + static_cast<int>(rng() % 8);
    for (int w = 0; w < words; ++w) {
      if (w) s += ' ';
      const int len = 3 + static_cast<int>(rng() % 8);
      for (int k = 0; k < len; ++k) s += static_cast<char>('a' + rng() % 26);
    }
    c.raw.push_back(s);
    c.clean.push_back(s);
  }
  return c;
}

const Tokenizer& tokenizer() {
  static const Tokenizer t = Tokenizer::openai();
  return t;
}

void run_encode_cleaned(benchmark::State& state, const Corpus& corpus, bool fresh_tokenizer) {
  const Tokenizer fresh = Tokenizer::openai();
  const Tokenizer& t = fresh_tokenizer ? fresh : tokenizer();
  int64_t tokens = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto ids = t.encode_cleaned(corpus.clean[i]);
    benchmark::DoNotOptimize(ids.data());
    tokens += static_cast<int64_t>(ids.size());
    if (++i == corpus.clean.size()) i = 0;
  }
  state.SetItemsProcessed(tokens);
}

void BM_EncodeCleaned_Captions(benchmark::State& state) {
  static const Corpus c = fixture_corpus({"caption"});
  run_encode_cleaned(state, c, false);
}
BENCHMARK(BM_EncodeCleaned_Captions)->Name("EncodeCleaned/captions");

void BM_EncodeCleaned_Prompts(benchmark::State& state) {
  static const Corpus c = fixture_corpus({"sd_prompt"});
  run_encode_cleaned(state, c, false);
}
BENCHMARK(BM_EncodeCleaned_Prompts)->Name("EncodeCleaned/sd_prompts");

void BM_EncodeCleaned_Cold(benchmark::State& state) {
  static const Corpus c = cold_corpus();
  run_encode_cleaned(state, c, true);
}
BENCHMARK(BM_EncodeCleaned_Cold)->Name("EncodeCleaned/cold");

void BM_Encode_Captions(benchmark::State& state) {
  static const Corpus c = fixture_corpus({"caption"});
  int64_t tokens = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto ids = tokenizer().encode(c.raw[i]);
    benchmark::DoNotOptimize(ids.data());
    tokens += static_cast<int64_t>(ids.size());
    if (++i == c.raw.size()) i = 0;
  }
  state.SetItemsProcessed(tokens);
}
BENCHMARK(BM_Encode_Captions)->Name("Encode/captions");

void BM_Tokenize77_Captions(benchmark::State& state) {
  static const Corpus c = fixture_corpus({"caption"});
  clipkit::text::TokenizeOptions o;
  o.overflow = clipkit::text::Overflow::truncate;
  int64_t texts = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto rows = tokenizer().tokenize(c.raw[i], o);
    benchmark::DoNotOptimize(rows.data());
    ++texts;
    if (++i == c.raw.size()) i = 0;
  }
  state.SetItemsProcessed(texts);  // texts/s here
}
BENCHMARK(BM_Tokenize77_Captions)->Name("Tokenize77/captions(texts/s)");

void BM_LoadEmbedded(benchmark::State& state) {
  for (auto _ : state) {
    const Tokenizer t = Tokenizer::openai();
    benchmark::DoNotOptimize(&t);
  }
}
BENCHMARK(BM_LoadEmbedded)->Name("LoadEmbedded")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
