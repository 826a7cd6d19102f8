// The tokenizer from the reference's clean text on: pre-tokenizer pieces, BPE ids, the 77-slot
// rows and decode, for every case of tests/data/tokenizer/cases.jsonl (outputs of OpenAI's
// simple_tokenizer.py and clip.tokenize), plus the vocabulary loaders, UTF-8 handling, the
// overflow modes and a randomized robustness run. End-to-end tests from raw text, which need
// the ftfy clean-up, are in text_tokenizer_test.cpp.
#include <gtest/gtest.h>

#include "testing.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <atomic>
#include <cstring>

#include "core/error.h"
#include "text/bpe.h"
#include "text/pretokenize.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
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

const Tokenizer& openai() {
  static const Tokenizer t = Tokenizer::openai();
  return t;
}

std::vector<int32_t> ids_of(const json& j) { return j.get<std::vector<int32_t>>(); }

std::string show(const std::vector<int32_t>& v) { return json(v).dump(); }

// Prints "category: passed/total" for every category and returns the number of failures.
int report(const char* what, const std::map<std::string, std::pair<int, int>>& tally) {
  int failed = 0, total = 0;
  std::printf("%s\n", what);
  for (const auto& [cat, pt] : tally) {
    std::printf("  %-14s %3d/%d\n", cat.c_str(), pt.first, pt.second);
    failed += pt.second - pt.first;
    total += pt.second;
  }
  std::printf("  %-14s %3d/%d\n", "all", total - failed, total);
  return failed;
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("clipkit_text_bpe_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(Fixture, HasEveryCase) {
  ASSERT_EQ(cases().size(), 478u) << "tests/data/tokenizer/cases.jsonl is incomplete";
}

TEST(Pretokenize, EveryFixtureCaseFromClean) {
  std::map<std::string, std::pair<int, int>> tally;
  for (const json& c : cases()) {
    const std::string clean = c["clean"];
    const auto expected = c["pieces"].get<std::vector<std::string>>();
    const auto got = pretokenize(clean, PatternCase::insensitive);
    const bool ok = std::vector<std::string>(got.begin(), got.end()) == expected;
    auto& t = tally[c["category"]];
    t.first += ok;
    t.second += 1;
    EXPECT_TRUE(ok) << c["id"] << " clean=" << json(clean).dump() << " pieces=" << json(got).dump()
                    << " expected=" << json(expected).dump();
  }
  EXPECT_EQ(report("pieces (from clean):", tally), 0);
}

TEST(Bpe, EveryFixtureCaseFromClean) {
  std::map<std::string, std::pair<int, int>> tally;
  TokenizeOptions trunc;
  trunc.overflow = Overflow::truncate;
  for (const json& c : cases()) {
    const auto expected = ids_of(c["bpe_ids"]);
    const auto got = openai().encode_cleaned(c["clean"].get<std::string>());
    const auto rows = openai().make_rows(got, trunc);
    const auto expected77 = ids_of(c["tokens77"]);
    const bool ok = got == expected && rows.size() == 1 && rows[0] == expected77;
    auto& t = tally[c["category"]];
    t.first += ok;
    t.second += 1;
    EXPECT_EQ(show(got), show(expected)) << c["id"] << " clean=" << c["clean"].dump();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(show(rows[0]), show(expected77)) << c["id"];
    // Without truncation, exactly the cases the reference could not fit raise.
    bool threw = false;
    try {
      openai().make_rows(got);
    } catch (const Error&) {
      threw = true;
    }
    EXPECT_EQ(threw, c["truncated"].get<bool>()) << c["id"];
  }
  EXPECT_EQ(report("bpe_ids and tokens77 (from clean):", tally), 0);
}

TEST(Decode, EveryFixtureCase) {
  for (const json& c : cases())
    EXPECT_EQ(openai().decode(ids_of(c["bpe_ids"])), c["decoded"].get<std::string>()) << c["id"];
}

TEST(Vocab, EmbeddedEqualsReferenceVocabAndMerges) {
  const Vocab& v = openai().vocab();
  std::ifstream f(kData + "/tokenizer/vocab.json");
  json j = json::parse(f);
  ASSERT_EQ(j.size(), 49408u);
  ASSERT_EQ(v.ids.size(), 49408u);
  for (const auto& [tok, id] : j.items()) ASSERT_EQ(v.find(tok), id.get<int32_t>()) << tok;
  EXPECT_EQ(openai().vocab_size(), 49408u);
  EXPECT_EQ(openai().sot_id(), 49406);
  EXPECT_EQ(openai().eot_id(), 49407);
  // merges.txt lists the 48894 merges in rank order.
  std::ifstream m(kData + "/tokenizer/merges.txt");
  std::string line;
  std::getline(m, line);
  ASSERT_EQ(line, "#version: 0.2");
  std::size_t rank = 0;
  while (std::getline(m, line)) {
    ASSERT_LT(rank, v.merges.size());
    const std::size_t sp = line.find(' ');
    EXPECT_EQ(v.merges[rank].left, v.find(line.substr(0, sp))) << "rank " << rank;
    EXPECT_EQ(v.merges[rank].right, v.find(line.substr(sp + 1))) << "rank " << rank;
    EXPECT_EQ(v.merges[rank].result, v.find(line.substr(0, sp) + line.substr(sp + 1))) << "rank " << rank;
    ++rank;
  }
  EXPECT_EQ(rank, 48894u);
  EXPECT_EQ(v.merges.size(), 48894u);
}

TEST(Vocab, ByteSymbolsFollowBytesToUnicode) {
  const Vocab& v = openai().vocab();
  // ids 0..187 are the printable bytes 33-126, 161-172, 174-255; then the other 68 bytes.
  EXPECT_EQ(v.byte_ids['!'], 0);
  EXPECT_EQ(v.byte_ids['~'], 93);
  EXPECT_EQ(v.byte_ids[0], 188);
  EXPECT_EQ(v.byte_ids[255], 187);
  EXPECT_EQ(v.byte_eow_ids['!'], 256);
  EXPECT_EQ(byte_to_unicode(' '), U'\u0120');
  for (int b = 0; b < 256; ++b) EXPECT_EQ(unicode_to_byte(byte_to_unicode(static_cast<uint8_t>(b))), b);
  EXPECT_EQ(unicode_to_byte(U'\u0144'), -1);
}

TEST(Vocab, TrainedMergesAreConsistentlyOrdered) {
  // Both merge orders (OpenAI's rounds, tokenizers' queue) then give the same result, and long
  // words take the heap path.
  Bpe bpe(openai().vocab(), MergeOrder::rounds);
  EXPECT_TRUE(bpe.consistent());
}

TEST(Vocab, FolderWithVocabJsonAndMergesTxt) {
  // tests/data/tokenizer holds vocab.json + merges.txt (the transformers layout) beside the .gz.
  const Tokenizer t = Tokenizer::from_folder(kData + "/tokenizer");
  EXPECT_EQ(t.vocab_size(), 49408u);
  for (const json& c : cases())
    ASSERT_EQ(show(t.encode_cleaned(c["clean"].get<std::string>())), show(ids_of(c["bpe_ids"]))) << c["id"];
}

TEST(Vocab, OpenAiBpeFile) {
  const Tokenizer t = Tokenizer::from_vocab(load_openai_bpe_file(kData + "/tokenizer/bpe_simple_vocab_16e6.txt.gz"));
  for (const json& c : cases())
    ASSERT_EQ(show(t.encode_cleaned(c["clean"].get<std::string>())), show(ids_of(c["bpe_ids"]))) << c["id"];
}

TEST(Vocab, TokenizerJsonBothMergeFormsAndAddedTokens) {
  std::ifstream vf(kData + "/tokenizer/vocab.json");
  const json vocab = json::parse(vf);
  std::ifstream mf(kData + "/tokenizer/merges.txt");
  std::vector<std::string> merges;
  std::string line;
  std::getline(mf, line);
  while (std::getline(mf, line)) merges.push_back(line);
  for (bool pairs : {false, true}) {
    json m = json::array();
    for (const std::string& s : merges) {
      const std::size_t sp = s.find(' ');
      if (pairs)
        m.push_back(json::array({s.substr(0, sp), s.substr(sp + 1)}));
      else
        m.push_back(s);
    }
    json tj = {{"version", "1.0"},
               {"added_tokens",
                json::array({{{"id", 49406}, {"content", "<|startoftext|>"}, {"special", true}, {"normalized", true}},
                             {{"id", 49407}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}},
                             {{"id", 49408}, {"content", "<cat-toy>"}, {"special", false}, {"normalized", true}}})},
               {"model",
                {{"type", "BPE"}, {"end_of_word_suffix", "</w>"}, {"continuing_subword_prefix", ""},
                 {"vocab", vocab}, {"merges", m}}}};
    const fs::path dir = temp_dir(pairs ? "pairs" : "strings");
    std::ofstream(dir / "tokenizer.json") << tj.dump();
    const Tokenizer t = Tokenizer::from_folder(dir);
    EXPECT_EQ(t.vocab_size(), 49409u);
    EXPECT_EQ(t.vocab().added.size(), 3u);
    for (std::size_t i = 0; i < cases().size(); i += 7)
      ASSERT_EQ(show(t.encode_cleaned(cases()[i]["clean"].get<std::string>())), show(ids_of(cases()[i]["bpe_ids"])))
          << cases()[i]["id"];
    EXPECT_EQ(t.decode(std::vector<int32_t>{49408, 320}), "<cat-toy>a ");
    // transformers mode matches a normalized added token in the normalized text.
    const Tokenizer h = Tokenizer::from_folder(dir, {Normalization::transformers});
    EXPECT_EQ(show(h.encode_cleaned("a <cat-toy> photo")), show({320, 49408, 1125}));
    fs::remove_all(dir);
  }
}

TEST(Vocab, BrokenFilesAreErrorsNamingTheFile) {
  const fs::path dir = temp_dir("broken");
  std::ofstream(dir / "tokenizer.json") << "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
  try {
    Tokenizer::from_folder(dir);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("byte"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "tokenizer.json") << "{not json";
  EXPECT_THROW(Tokenizer::from_folder(dir), Error);
  fs::remove(dir / "tokenizer.json");
  EXPECT_THROW(Tokenizer::from_folder(dir), Error);  // no tokenizer files at all
  std::ofstream(dir / "bpe_simple_vocab_16e6.txt.gz") << "\x1f\x8b garbage";
  EXPECT_THROW(Tokenizer::from_folder(dir), Error);
  EXPECT_THROW(Tokenizer::from_folder(dir / "missing"), Error);
  fs::remove_all(dir);
}

TEST(Pretokenize, CaseInsensitiveCorners) {
  using V = std::vector<std::string_view>;
  // U+017F folds to s: one special-alternative piece that is not the literal special token.
  EXPECT_EQ(pretokenize("<|\xC5\xBFtartoftext|>", PatternCase::insensitive), V({"<|\xC5\xBFtartoftext|>"}));
  EXPECT_EQ(pretokenize("it'\xC5\xBF", PatternCase::insensitive), V({"it", "'\xC5\xBF"}));
  EXPECT_EQ(pretokenize("it'\xC5\xBF", PatternCase::sensitive), V({"it", "'", "\xC5\xBF"}));
  EXPECT_EQ(pretokenize("<|ENDOFTEXT|> 'LL", PatternCase::insensitive), V({"<|ENDOFTEXT|>", "'LL"}));
  EXPECT_EQ(pretokenize("<|ENDOFTEXT|>", PatternCase::sensitive), V({"<|", "ENDOFTEXT", "|>"}));
  // Punctuation runs swallow what would start a special token or a contraction.
  EXPECT_EQ(pretokenize("!<|endoftext|>", PatternCase::insensitive), V({"!<|", "endoftext", "|>"}));
  EXPECT_EQ(pretokenize("!'s 'sun", PatternCase::insensitive), V({"!'", "s", "'s", "un"}));
  // U+0345 matches no alternative under IGNORECASE (regex module) but is punctuation otherwise.
  EXPECT_EQ(pretokenize("ab\xCD\x85" "cd \xCD\x85", PatternCase::insensitive), V({"ab", "cd"}));
  EXPECT_EQ(pretokenize("ab\xCD\x85", PatternCase::sensitive), V({"ab", "\xCD\x85"}));
  // White_Space, not Python's isspace: U+001C is punctuation, U+0085 and U+3000 are spaces.
  EXPECT_EQ(pretokenize("a\x1c\x1d" "b\xC2\x85" "c\xE3\x80\x80" "d", PatternCase::insensitive),
            V({"a", "\x1c\x1d", "b", "c", "d"}));
  EXPECT_EQ(pretokenize("12\xC2\xBD", PatternCase::insensitive), V({"1", "2", "\xC2\xBD"}));
  EXPECT_EQ(char_class(U'\u0301', PatternCase::insensitive), CharClass::other);  // combining mark
  EXPECT_EQ(char_class(U'\u3042', PatternCase::insensitive), CharClass::letter);
}

TEST(Utf8, InvalidInputIsAnErrorNamingTheOffset) {
  EXPECT_EQ(find_invalid_utf8("abc"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("ab\xE2\x82"), 2u);
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0u);  // surrogate
  EXPECT_EQ(find_invalid_utf8("ok \xC0\xAF"), 3u);   // overlong
  EXPECT_EQ(find_invalid_utf8("12345678\xF4\x90\x80\x80"), 8u);  // above U+10FFFF
  try {
    check_utf8("caf\xE9!");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("offset 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("0xe9"), std::string::npos) << e.what();
  }
  EXPECT_THROW(openai().encode_cleaned("a\xFF"), Error);
}

TEST(Utf8, ReplacementFollowsPythonMaximalSubparts) {
  // Expected strings are what bytes.decode('utf-8', 'replace') returns (CPython 3.11).
  const std::string R = "\xEF\xBF\xBD";
  EXPECT_EQ(replace_invalid_utf8("a\x80" "b"), "a" + R + "b");
  EXPECT_EQ(replace_invalid_utf8("\xE2\x82"), R);                  // truncated: one U+FFFD
  EXPECT_EQ(replace_invalid_utf8("\xE2\x82" "A"), R + "A");
  EXPECT_EQ(replace_invalid_utf8("\xF0\x9F\x98"), R);
  EXPECT_EQ(replace_invalid_utf8("\xED\xA0\x80"), R + R + R);      // surrogate: per byte
  EXPECT_EQ(replace_invalid_utf8("\xC0\xAF"), R + R);              // overlong: per byte
  EXPECT_EQ(replace_invalid_utf8("\xE0\x80\x80"), R + R + R);
  EXPECT_EQ(replace_invalid_utf8("\xF4\x90\x80\x80"), R + R + R + R);
  EXPECT_EQ(replace_invalid_utf8("\xF1\x80\x80\xE1\x80\xC0"), R + R + R);
  EXPECT_EQ(replace_invalid_utf8("\xFF\xFE"), R + R);
  EXPECT_EQ(replace_invalid_utf8("caf\xC3\xA9"), "caf\xC3\xA9");
}

TEST(Rows, OverflowModesAndPadding) {
  const Tokenizer& t = openai();
  std::vector<int32_t> ids(160);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = 1000 + static_cast<int32_t>(i);
  try {
    t.make_rows(ids);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("160 tokens"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("77"), std::string::npos) << e.what();
  }
  TokenizeOptions o;
  o.overflow = Overflow::truncate;
  auto rows = t.make_rows(ids, o);
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(rows[0].size(), 77u);
  EXPECT_EQ(rows[0].front(), 49406);
  EXPECT_EQ(rows[0][75], 1074);
  EXPECT_EQ(rows[0].back(), 49407);

  o.overflow = Overflow::chunks;
  rows = t.make_rows(ids, o);
  ASSERT_EQ(rows.size(), 3u);  // 75 + 75 + 10
  EXPECT_EQ(rows[1][1], 1075);
  EXPECT_EQ(rows[2][10], 1159);
  EXPECT_EQ(rows[2][11], 49407);
  EXPECT_EQ(rows[2][12], 0);
  EXPECT_EQ(t.make_rows({}, o).size(), 1u);  // an empty prompt is one chunk [SOT, EOT]

  o.pad_id = 49407;
  o.context_length = 10;
  rows = t.make_rows(std::vector<int32_t>{5, 6}, o);
  EXPECT_EQ(show(rows[0]), show({49406, 5, 6, 49407, 49407, 49407, 49407, 49407, 49407, 49407}));
  o.pad_id.reset();
  rows = t.make_rows(std::vector<int32_t>{5, 6}, o);
  EXPECT_EQ(show(rows[0]), show({49406, 5, 6, 49407}));
  o.context_length = 1;
  EXPECT_THROW(t.make_rows({}, o), Error);
}

TEST(Decode, UnknownIdIsAnError) {
  EXPECT_THROW(openai().decode(std::vector<int32_t>{49408}), Error);
  EXPECT_THROW(openai().decode(std::vector<int32_t>{-1}), Error);
  EXPECT_EQ(openai().decode(std::vector<int32_t>{49406, 320, 49407}), "<|startoftext|>a <|endoftext|>");
}

TEST(Bpe, LongWordsUseTheHeapAndAgreeWithTheScan) {
  // The same word through the two vocab-equivalent tokenizers must give the same ids, and the
  // heap path (long pieces) must agree with the short path applied to the same letters.
  const std::string word = "pneumonoultramicroscopicsilicovolcanoconiosis";
  std::string long_text;
  for (int i = 0; i < 5; ++i) long_text += word;  // 225 letters: the heap path
  const auto one = openai().encode_cleaned(word);
  const auto many = openai().encode_cleaned(long_text);
  EXPECT_GT(many.size(), one.size());
  // Merges never cross a piece boundary, so join the decoded tokens and compare text.
  EXPECT_EQ(openai().decode(many), long_text + " ");
  // The 500-letter fixture case exercises the heap path against the reference.
  bool found = false;
  for (const json& c : cases())
    if (c["clean"].get<std::string>().size() > Bpe::kLongWord && c["pieces"].size() == 1) found = true;
  EXPECT_TRUE(found) << "no fixture case has a single piece longer than the heap threshold";
}

TEST(Bpe, MergeOrdersDifferOnlyForInconsistentMerges) {
  // A made-up vocabulary where a merge uses a symbol before it is made: ("ab", "a") at rank 0,
  // ("a", "b") at rank 1. OpenAI's rounds merge every "a b" first; tokenizers' queue merges the
  // leftmost one and then at once the cheaper ("ab", "a").
  Vocab v = openai().vocab();
  const int32_t a = v.byte_ids['a'], b = v.byte_ids['b'], c_eow = v.byte_eow_ids['c'];
  const int32_t ab = v.find("ab"), aba = v.find("aba");
  ASSERT_GE(aba, 0);
  v.merges = {Merge{ab, a, aba}, Merge{a, b, ab}};
  const Tokenizer rounds = Tokenizer::from_vocab(v);
  const Tokenizer queue = Tokenizer::from_vocab(v, {Normalization::transformers});
  EXPECT_EQ(show(rounds.encode_cleaned("ababc")), show({ab, ab, c_eow}));
  EXPECT_EQ(show(queue.encode_cleaned("ababc")), show({aba, b, c_eow}));
  // Long words (past the heap threshold) keep each order's result.
  std::string long_word;
  std::vector<int32_t> expected_rounds, expected_queue;
  for (int i = 0; i < 100; ++i) long_word += "ab", expected_rounds.push_back(ab);
  long_word += "c";
  expected_rounds.push_back(c_eow);
  // Queue: "aba" then "b" repeatedly: (ab,a) fires as soon as each "ab" is made.
  for (int i = 0; i < 50; ++i) expected_queue.push_back(aba), expected_queue.push_back(b);
  expected_queue.push_back(c_eow);
  EXPECT_EQ(show(rounds.encode_cleaned(long_word)), show(expected_rounds));
  EXPECT_EQ(show(queue.encode_cleaned(long_word)), show(expected_queue));
}

TEST(Threads, ConcurrentEncodingMatchesSerial) {
  std::vector<std::vector<int32_t>> expected;
  for (const json& c : cases()) expected.push_back(ids_of(c["bpe_ids"]));
  const Tokenizer t = Tokenizer::openai();  // a fresh, cold cache shared by the threads
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int rep = 0; rep < 20; ++rep)
        for (std::size_t i = (k * 7 + rep) % cases().size(), n = 0; n < cases().size();
             ++n, i = (i + 1) % cases().size())
          if (t.encode_cleaned(cases()[i]["clean"].get<std::string>()) != expected[i]) ++bad;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(Robustness, RandomBytesNeverCrash) {
  // Arbitrary bytes through every path that takes them: validation, replacement, the
  // pre-tokenizer and BPE, decode and the row builder. Bounded so it runs in CI; the
  // libFuzzer target fuzz/tokenizer_fuzz.cpp does the same without bounds.
  std::mt19937_64 rng(12345);
  const Tokenizer hf = Tokenizer::openai({Normalization::transformers, true});
  const char* alphabet[] = {"a", "s", "'", "<|", "|>", "endoftext", "startoftext", " ", "\xC5\xBF", "\xCD\x85",
                            "1", "!", "\xE3\x81\x82", "\xF0\x9F\x98\x80", "\x80", "\xFF", "\xE2\x82", "\n", "\0"};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    const int len = static_cast<int>(rng() % (iter % 100 == 0 ? 3000 : 40));
    for (int i = 0; i < len; ++i) {
      const char* piece = alphabet[rng() % std::size(alphabet)];
      if (rng() % 3 == 0) {
        s.push_back(static_cast<char>(rng() & 0xFF));
      } else if (*piece == 0) {
        s.push_back('\0');
      } else {
        s += piece;
      }
    }
    const std::string text = replace_invalid_utf8(s);
    ASSERT_EQ(find_invalid_utf8(text), std::string_view::npos);
    if (find_invalid_utf8(s) != std::string_view::npos) {
      EXPECT_THROW(openai().encode_cleaned(s), Error);
    }
    for (const Tokenizer* t : {&openai(), &hf}) {
      const auto ids = t->encode_cleaned(text);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && static_cast<std::size_t>(id) < t->vocab_size());
      const std::string back = t->decode(ids);
      ASSERT_EQ(find_invalid_utf8(back), std::string_view::npos);
      TokenizeOptions o;
      o.overflow = Overflow::chunks;
      for (const auto& row : t->make_rows(ids, o)) ASSERT_EQ(row.size(), 77u);
    }
  }
}
