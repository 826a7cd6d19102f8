// The tokenizer end to end, from raw text (clean-up included): every case of
// tests/data/tokenizer/cases.jsonl (OpenAI's simple_tokenizer + clip.tokenize) and of
// tests/data/hf/tokenizer_cases.jsonl (transformers' CLIPTokenizer, and OpenAI's on the same
// texts), plus invalid UTF-8 and added tokens in raw text.
#include <gtest/gtest.h>

#include "testing.h"
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

using namespace clipkit;
using namespace clipkit::text;
using json = nlohmann::json;
namespace fs = std::filesystem;

using clipkit::test_util::read_jsonl;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

const std::vector<json>& cases() {
  static const std::vector<json> c = read_jsonl(kData + "/tokenizer/cases.jsonl");
  return c;
}
const std::vector<json>& hf_cases() {
  static const std::vector<json> c = read_jsonl(kData + "/hf/tokenizer_cases.jsonl");
  return c;
}

const Tokenizer& openai() {
  static const Tokenizer t = Tokenizer::openai();
  return t;
}
const Tokenizer& transformers() {
  static const Tokenizer t = Tokenizer::openai({Normalization::transformers});
  return t;
}

std::string show(const std::vector<int32_t>& v) { return json(v).dump(); }
std::vector<int32_t> ids_of(const json& j) { return j.get<std::vector<int32_t>>(); }

TokenizeOptions truncate_with_pad(int32_t pad) {
  TokenizeOptions o;
  o.overflow = Overflow::truncate;
  o.pad_id = pad;
  return o;
}

}  // namespace

TEST(EndToEnd, EveryFixtureCaseFromText) {
  ASSERT_EQ(cases().size(), 478u);
  std::map<std::string, std::pair<int, int>> tally;
  for (const json& c : cases()) {
    const std::string text = c["text"];
    const auto ids = openai().encode(text);
    const auto rows = openai().tokenize(text, truncate_with_pad(0));
    const bool ok = ids == ids_of(c["bpe_ids"]) && rows.size() == 1 && rows[0] == ids_of(c["tokens77"]);
    auto& t = tally[c["category"]];
    t.first += ok;
    t.second += 1;
    EXPECT_EQ(show(ids), show(ids_of(c["bpe_ids"]))) << c["id"] << " text=" << json(text).dump();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(show(rows[0]), show(ids_of(c["tokens77"]))) << c["id"];
    // clip.tokenize without truncate raises exactly on the over-long cases.
    bool threw = false;
    try {
      openai().tokenize(text);
    } catch (const Error&) {
      threw = true;
    }
    EXPECT_EQ(threw, c["truncated"].get<bool>()) << c["id"];
  }
  int failed = 0, total = 0;
  std::printf("bpe_ids and tokens77 from text, per category:\n");
  for (const auto& [cat, pt] : tally) {
    std::printf("  %-14s %3d/%d\n", cat.c_str(), pt.first, pt.second);
    failed += pt.second - pt.first;
    total += pt.second;
  }
  std::printf("  %-14s %3d/%d\n", "all", total - failed, total);
  EXPECT_EQ(failed, 0);
}

// SDXL's second tokenizer as transformers loads it: CLIP's vocab.json + merges.txt with
// special_tokens_map.json naming "!" as pad token.
fs::path sdxl_tokenizer_2_folder() {
  const fs::path dir = fs::temp_directory_path() / ("clipkit_text_tok2_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(kData + "/tokenizer/vocab.json", dir / "vocab.json", fs::copy_options::overwrite_existing);
  fs::copy_file(kData + "/tokenizer/merges.txt", dir / "merges.txt", fs::copy_options::overwrite_existing);
  std::ofstream(dir / "special_tokens_map.json")
      << R"({"bos_token": {"content": "<|startoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
            "eos_token": {"content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
            "pad_token": "!", "unk_token": {"content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}})";
  return dir;
}

TEST(EndToEnd, TransformersFixture) {
  ASSERT_EQ(hf_cases().size(), 97u);
  const fs::path dir = sdxl_tokenizer_2_folder();
  const Tokenizer bang = Tokenizer::from_folder(dir, {Normalization::transformers});
  fs::remove_all(dir);
  EXPECT_EQ(transformers().default_pad_id(), 49407);
  EXPECT_EQ(bang.default_pad_id(), 0);
  int ok_hf = 0, ok_openai = 0;
  for (const json& c : hf_cases()) {
    const std::string text = c["text"];
    // transformers: truncated to 77 and padded with <|endoftext|> (ids); the tokenizer whose pad
    // token is "!" (ids_pad_bang) also cuts every "!" out of the text as that special token.
    const auto pad_eot = transformers().tokenize(text, truncate_with_pad(transformers().default_pad_id()));
    const auto pad_bang = bang.tokenize(text, truncate_with_pad(bang.default_pad_id()));
    std::vector<int32_t> untruncated = transformers().encode(text);
    untruncated.insert(untruncated.begin(), 49406);
    untruncated.push_back(49407);
    const bool hf = pad_eot[0] == ids_of(c["ids"]) && pad_bang[0] == ids_of(c["ids_pad_bang"]) &&
                    untruncated == ids_of(c["untruncated"]);
    EXPECT_EQ(show(pad_eot[0]), show(ids_of(c["ids"]))) << json(text).dump();
    EXPECT_EQ(show(pad_bang[0]), show(ids_of(c["ids_pad_bang"]))) << json(text).dump();
    EXPECT_EQ(show(untruncated), show(ids_of(c["untruncated"]))) << json(text).dump();
    // The original on the same texts (the default mode).
    const auto openai_row = openai().tokenize(text, truncate_with_pad(0));
    EXPECT_EQ(show(openai_row[0]), show(ids_of(c["openai_ids"]))) << json(text).dump();
    ok_hf += hf;
    ok_openai += openai_row[0] == ids_of(c["openai_ids"]);
  }
  std::printf("hf/tokenizer_cases.jsonl: transformers mode %d/%zu, OpenAI mode %d/%zu\n", ok_hf, hf_cases().size(),
              ok_openai, hf_cases().size());
}

TEST(EndToEnd, PadTokenOfAFolderIsIgnoredInOpenAiMode) {
  // open_clip tokenizes for SDXL's second encoder with OpenAI's rules: "!" is an ordinary token.
  const fs::path dir = sdxl_tokenizer_2_folder();
  const Tokenizer t = Tokenizer::from_folder(dir);
  fs::remove_all(dir);
  EXPECT_EQ(t.default_pad_id(), 0);
  EXPECT_EQ(show(t.encode("!!!???...")), show(openai().encode("!!!???...")));
}

TEST(EndToEnd, InvalidUtf8ErrorOrReplacement) {
  try {
    openai().encode("a photo\xC3(");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("offset 7"), std::string::npos) << e.what();
  }
  // With replacement the text is what bytes.decode('utf-8', 'replace') gives: "a photo\ufffd(".
  const Tokenizer lenient = Tokenizer::openai({Normalization::openai, true});
  EXPECT_EQ(show(lenient.encode("a photo\xC3(")), show(openai().encode("a photo\xEF\xBF\xBD(")));
  EXPECT_EQ(show(lenient.encode("\xE2\x82")), show(openai().encode("\xEF\xBF\xBD")));
}

TEST(EndToEnd, SpecialTokensInText) {
  // From the fixtures: honoured after clean-up in OpenAI mode, literally in transformers mode.
  EXPECT_EQ(show(openai().encode("hello <|endoftext|> world")), show({3306, 49407, 1002}));
  EXPECT_EQ(show(transformers().encode("a <|endoftext|> b")), show({320, 49407, 321}));
}

TEST(EndToEnd, AddedTokensMatchedInRawText) {
  // A tokenizer.json with a word added after training (as textual inversion does).
  std::ifstream vf(kData + "/tokenizer/vocab.json");
  const json vocab = json::parse(vf);
  std::ifstream mf(kData + "/tokenizer/merges.txt");
  json merges = json::array();
  std::string line;
  std::getline(mf, line);
  while (std::getline(mf, line)) merges.push_back(line);
  json tj = {{"added_tokens",
              json::array({{{"id", 49406}, {"content", "<|startoftext|>"}, {"special", true}},
                           {{"id", 49407}, {"content", "<|endoftext|>"}, {"special", true}},
                           {{"id", 49408}, {"content", "<Cat-Toy>"}, {"special", false}, {"normalized", false}}})},
             {"model", {{"type", "BPE"}, {"end_of_word_suffix", "</w>"}, {"vocab", vocab}, {"merges", merges}}}};
  const fs::path dir = fs::temp_directory_path() / ("clipkit_text_tok_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << tj.dump();
  for (Normalization n : {Normalization::openai, Normalization::transformers}) {
    const Tokenizer t = Tokenizer::from_folder(dir, {n});
    // The token is cut out of the raw text before clean-up, so its capitals still match; the
    // rest is encoded as it would be alone.
    const auto a = openai().encode("a photo of a");
    const auto b = openai().encode("on a beach");
    std::vector<int32_t> expected = a;
    expected.push_back(49408);
    expected.insert(expected.end(), b.begin(), b.end());
    EXPECT_EQ(show(t.encode("a photo of a <Cat-Toy> on a beach")), show(expected));
    EXPECT_EQ(t.vocab_size(), 49409u);
  }
  fs::remove_all(dir);
}

TEST(EndToEnd, ConcurrentEncodeMatchesFixture) {
  const Tokenizer t = Tokenizer::openai();
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (std::size_t n = 0, i = k * 97; n < cases().size() * 3; ++n, i = (i + 1) % cases().size())
        if (t.encode(cases()[i]["text"].get<std::string>()) != ids_of(cases()[i]["bpe_ids"])) ++bad;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}
