// `clipkit tokenize` as a user runs it: the built binary on fixture texts, compared with
// clip.tokenize's rows (tests/data/tokenizer/cases.jsonl) and transformers' (hf/tokenizer_cases).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

struct CmdResult {
  int status = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

fs::path scratch() {
  static const fs::path d = [] {
    fs::path p = fs::temp_directory_path() / ("clipkit_cli_tokenize_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

// Runs `clipkit tokenize ARGS` through the shell; ARGS must already be quoted.
CmdResult tokenize(const std::string& args, const std::string& stdin_file = "") {
  const fs::path out = scratch() / "out.txt", err = scratch() / "err.txt";
  std::string cmd = std::string("'") + CLIPKIT_BINARY + "' tokenize " + args + " >'" + out.string() + "' 2>'" +
                    err.string() + "'";
  if (!stdin_file.empty()) cmd += " <'" + stdin_file + "'";
  CmdResult r;
  const int rc = std::system(cmd.c_str());
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  std::string l;
  while (std::getline(ss, l)) v.push_back(l);
  return v;
}

std::vector<json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  std::vector<json> out;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// A file with one text per line, for texts that fit on one line.
std::string write_lines(const std::string& name, const std::vector<std::string>& texts) {
  const fs::path p = scratch() / name;
  std::ofstream f(p, std::ios::binary);
  for (const auto& t : texts) f << t << '\n';
  return p.string();
}

bool one_line(const std::string& s) {
  return s.find_first_of(std::string("\n\r\0", 3)) == std::string::npos;
}

}  // namespace

TEST(CliTokenize, EveryOneLineFixtureCaseThroughATextFile) {
  std::vector<std::string> texts;
  std::vector<json> expected;
  for (const json& c : read_jsonl(kData + "/tokenizer/cases.jsonl")) {
    const std::string t = c["text"];
    if (!one_line(t)) continue;
    texts.push_back(t);
    expected.push_back(c["tokens77"]);
  }
  ASSERT_GT(texts.size(), 400u);
  const CmdResult r = tokenize("--truncate --text-file '" + write_lines("cases.txt", texts) + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto got = lines(r.out);
  ASSERT_EQ(got.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(json::parse(got[i]), expected[i]) << json(texts[i]).dump();
}

TEST(CliTokenize, TextArgumentAndStdin) {
  const CmdResult r = tokenize("--text 'a photo of a cat'");
  ASSERT_EQ(r.status, 0) << r.err;
  json expected = json::array({49406, 320, 1125, 539, 320, 2368, 49407});
  while (expected.size() < 77) expected.push_back(0);
  EXPECT_EQ(json::parse(lines(r.out).at(0)), expected);
  EXPECT_EQ(lines(r.out).size(), 1u);

  const CmdResult s = tokenize("--no-pad --text-file -", write_lines("stdin.txt", {"a photo of a cat", "a diagram"}));
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(s.out, "[49406, 320, 1125, 539, 320, 2368, 49407]\n[49406, 320, 22697, 49407]\n");
}

TEST(CliTokenize, OverLongTextIsAnErrorWithoutTruncate) {
  std::string words;
  for (int i = 0; i < 80; ++i) words += "word ";
  const CmdResult r = tokenize("--text 'a diagram' --text '" + words + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.out).size(), 1u) << "the text before the long one is still printed";
  EXPECT_NE(r.err.find("80 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("context length 77"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--text 2"), std::string::npos) << r.err;

  const CmdResult t = tokenize("--truncate --text '" + words + "'");
  ASSERT_EQ(t.status, 0) << t.err;
  const json row = json::parse(lines(t.out).at(0));
  EXPECT_EQ(row.size(), 77u);
  EXPECT_EQ(row[75], 2653);  // "word"
  EXPECT_EQ(row[76], 49407);

  const CmdResult c = tokenize("--chunks --text '" + words + "'");
  ASSERT_EQ(c.status, 0) << c.err;
  const json rows = json::parse(lines(c.out).at(0));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1][5], 2653);
  EXPECT_EQ(rows[1][6], 49407);
  EXPECT_EQ(rows[1][7], 0);
}

TEST(CliTokenize, TransformersModeMatchesItsFixture) {
  std::vector<std::string> texts;
  std::vector<json> expected;
  for (const json& c : read_jsonl(kData + "/hf/tokenizer_cases.jsonl")) {
    const std::string t = c["text"];
    if (!one_line(t)) continue;
    texts.push_back(t);
    expected.push_back(c["ids"]);
  }
  const CmdResult r = tokenize("--hf --truncate --text-file '" + write_lines("hf.txt", texts) + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto got = lines(r.out);
  ASSERT_EQ(got.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(json::parse(got[i]), expected[i]) << json(texts[i]).dump();
}

TEST(CliTokenize, InvalidUtf8AndBadArguments) {
  const std::string bad = write_lines("bad.txt", {"caf\xE9"});
  const CmdResult r = tokenize("--text-file '" + bad + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("offset 3"), std::string::npos) << r.err;
  const CmdResult ok = tokenize("--no-pad --replace-invalid --text-file '" + bad + "'");
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ok.out.substr(0, 7), "[49406,");

  EXPECT_NE(tokenize("").status, 0);                       // nothing to tokenize
  EXPECT_NE(tokenize("--text a --context 1").status, 0);   // no room for tokens
  EXPECT_NE(tokenize("--text a --vocab /nonexistent").status, 0);
  const CmdResult help = tokenize("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("Examples"), std::string::npos);
}
