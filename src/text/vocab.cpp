#include "text/vocab.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "text/embedded_vocab.h"
#include "text/utf8.h"

namespace clipkit::text {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::string_view kSot = "<|startoftext|>";
constexpr std::string_view kEot = "<|endoftext|>";
constexpr std::string_view kEow = "</w>";
// simple_tokenizer.py keeps merges[1 : 49152 - 256 - 2 + 1]: the vocabulary has 49152 entries
// of which 256 + 256 are byte symbols and 2 are special, so 48894 merges.
constexpr std::size_t kOpenAiMerges = 49152 - 256 - 2;

bool printable_byte(unsigned b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

struct ByteTables {
  std::array<char32_t, 256> to_cp{};
  std::array<uint8_t, 256> order{};  // bytes in the order bytes_to_unicode() lists them
  ByteTables() {
    unsigned extra = 0, k = 0;
    for (unsigned b = 0; b < 256; ++b)
      if (printable_byte(b)) to_cp[b] = b, order[k++] = static_cast<uint8_t>(b);
    for (unsigned b = 0; b < 256; ++b)
      if (!printable_byte(b)) to_cp[b] = 256 + extra++, order[k++] = static_cast<uint8_t>(b);
  }
};
const ByteTables& byte_tables() {
  static const ByteTables t;
  return t;
}

std::string byte_symbol(uint8_t b) {
  std::string s;
  append_utf8(s, byte_to_unicode(b));
  return s;
}

void set_token(Vocab& v, std::string token, int32_t id) {
  CLIPKIT_CHECK(id >= 0, v.source, ": negative token id ", id, " for token '", token, "'");
  v.ids[token] = id;  // a string listed twice keeps its last id, as a Python dict does
}

// Completes a vocabulary whose `ids` are set: fills `tokens`, resolves the byte symbols, the
// merges (given as strings) and the special tokens.
void finish(Vocab& v, const std::vector<std::pair<std::string, std::string>>& merges) {
  int32_t max_id = -1;
  for (const auto& [tok, id] : v.ids) max_id = std::max(max_id, id);
  v.tokens.assign(static_cast<std::size_t>(max_id + 1), std::string());
  for (const auto& [tok, id] : v.ids) v.tokens[static_cast<std::size_t>(id)] = tok;

  for (unsigned b = 0; b < 256; ++b) {
    const std::string sym = byte_symbol(static_cast<uint8_t>(b));
    v.byte_ids[b] = v.find(sym);
    v.byte_eow_ids[b] = v.find(sym + std::string(kEow));
    CLIPKIT_CHECK(v.byte_ids[b] >= 0 && v.byte_eow_ids[b] >= 0, v.source,
                  ": the vocabulary lacks the byte-level symbol of byte ", b, " ('", sym,
                  "' or '", sym, "</w>'), so it is not a CLIP byte-level BPE vocabulary");
  }

  v.merges.clear();
  v.merges.reserve(merges.size());
  for (std::size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    const int32_t l = v.find(a), rt = v.find(b), m = v.find(a + b);
    CLIPKIT_CHECK(l >= 0 && rt >= 0 && m >= 0, v.source, ": merge ", r, " ('", a, "' '", b,
                  "') names a token that is not in the vocabulary");
    v.merges.push_back(Merge{l, rt, m});
  }

  // The special tokens: from the vocabulary, else from the added tokens.
  auto special_id = [&](std::string_view s) {
    int32_t id = v.find(s);
    if (id < 0)
      for (const AddedToken& t : v.added)
        if (t.content == s) id = t.id;
    CLIPKIT_CHECK(id >= 0, v.source, ": the vocabulary has no '", s, "' token");
    return id;
  };
  v.sot = special_id(kSot);
  v.eot = special_id(kEot);
  // transformers registers both as special tokens matched literally in the raw text.
  for (const auto& special : {std::pair{kSot, v.sot}, std::pair{kEot, v.eot}}) {
    const std::string_view s = special.first;
    const bool listed = std::any_of(v.added.begin(), v.added.end(),
                                    [&](const AddedToken& t) { return t.content == s; });
    if (!listed) v.added.push_back(AddedToken{std::string(s), special.second, true, false, false, false});
  }
  for (const AddedToken& t : v.added) {
    CLIPKIT_CHECK(!t.content.empty(), v.source, ": added token ", t.id, " is empty");
    CLIPKIT_CHECK(t.id >= 0, v.source, ": added token '", t.content, "' has no valid id");
    check_utf8(t.content, v.source + ": added token");
  }
}

std::string read_text(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  CLIPKIT_CHECK(f.good(), "cannot open ", path.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  CLIPKIT_CHECK(!f.bad(), "cannot read ", path.string());
  return ss.str();
}

json parse_json(const fs::path& path) {
  const std::string text = read_text(path);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  CLIPKIT_CHECK(!j.is_discarded(), path.string(), ": not valid JSON");
  return j;
}

// Splits "a b" into its two halves; false when the line does not have exactly two parts.
bool split_merge(std::string_view line, std::pair<std::string, std::string>& out) {
  const std::size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp == 0 || sp + 1 >= line.size()) return false;
  if (line.find(' ', sp + 1) != std::string_view::npos) return false;
  out = {std::string(line.substr(0, sp)), std::string(line.substr(sp + 1))};
  return true;
}

void read_added_token(Vocab& v, const json& t, const std::string& where) {
  CLIPKIT_CHECK(t.is_object() && t.contains("content") && t["content"].is_string(), where,
                ": an added token needs a string 'content'");
  AddedToken a;
  a.content = t["content"].get<std::string>();
  if (t.contains("id")) {
    CLIPKIT_CHECK(t["id"].is_number_integer(), where, ": added token '", a.content, "' has a non-integer id");
    a.id = t["id"].get<int32_t>();
  }
  auto flag = [&](const char* key, bool dflt) {
    return t.contains(key) && t[key].is_boolean() ? t[key].get<bool>() : dflt;
  };
  a.special = flag("special", false);
  a.normalized = flag("normalized", !a.special);  // tokenizers' default
  a.lstrip = flag("lstrip", false);
  a.rstrip = flag("rstrip", false);
  for (AddedToken& old : v.added)
    if (old.content == a.content) {
      old = a;
      return;
    }
  v.added.push_back(std::move(a));
}

// transformers keeps tokens added after training (e.g. textual-inversion words) beside
// vocab.json: in tokenizer_config.json's "added_tokens_decoder" or in added_tokens.json.
void read_transformers_added_tokens(Vocab& v, const fs::path& dir) {
  const fs::path config = dir / "tokenizer_config.json";
  if (fs::is_regular_file(config)) {
    const json j = parse_json(config);
    if (j.contains("added_tokens_decoder") && j["added_tokens_decoder"].is_object()) {
      for (const auto& [key, t] : j["added_tokens_decoder"].items()) {
        json tok = t;
        try {
          tok["id"] = std::stoi(key);
        } catch (const std::exception&) {
          fail(config.string(), ": added_tokens_decoder key '", key, "' is not an id");
        }
        read_added_token(v, tok, config.string());
      }
    }
  }
  const fs::path added = dir / "added_tokens.json";
  if (fs::is_regular_file(added)) {
    const json j = parse_json(added);
    CLIPKIT_CHECK(j.is_object(), added.string(), ": expected {token: id}");
    for (const auto& [content, id] : j.items()) {
      CLIPKIT_CHECK(id.is_number_integer(), added.string(), ": id of '", content, "' is not an integer");
      read_added_token(v, json{{"content", content}, {"id", id}}, added.string());
    }
  }
}

// The special tokens transformers reads from tokenizer_config.json and special_tokens_map.json
// (the latter wins). A pad token other than <|endoftext|> (SDXL's second tokenizer pads with
// "!") becomes an added token like the others, so transformers also matches it in the text.
void read_special_tokens_map(Vocab& v, const fs::path& dir) {
  for (const char* file : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const fs::path path = dir / file;
    if (!fs::is_regular_file(path)) continue;
    const json j = parse_json(path);
    if (!j.is_object()) continue;
    for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
      if (!j.contains(key)) continue;
      const json& t = j[key];
      json tok;
      if (t.is_string()) {
        tok = {{"content", t}, {"special", true}, {"normalized", false}};
      } else if (t.is_object() && t.contains("content") && t["content"].is_string()) {
        tok = t;
        tok["special"] = true;
      } else {
        continue;  // null: no such token
      }
      const std::string content = tok["content"];
      int32_t id = v.find(content);
      for (const AddedToken& a : v.added)
        if (a.content == content) id = a.id;
      CLIPKIT_CHECK(id >= 0, path.string(), ": ", key, " '", content, "' is not in the vocabulary");
      tok["id"] = id;
      // A plain string does not override flags an added-token list already gave.
      const bool listed = std::any_of(v.added.begin(), v.added.end(),
                                      [&](const AddedToken& a) { return a.content == content; });
      if (t.is_object() || !listed) read_added_token(v, tok, path.string());
      if (std::string_view(key) == "pad_token") v.pad = id;
    }
  }
}

}  // namespace

char32_t byte_to_unicode(uint8_t b) { return byte_tables().to_cp[b]; }

int unicode_to_byte(char32_t cp) {
  if (cp < 256) return printable_byte(cp) ? static_cast<int>(cp) : -1;
  if (cp >= 256 + 68) return -1;
  // The 68 non-printable bytes were numbered from U+0100 in byte order.
  static const std::array<uint8_t, 68> inverse = [] {
    std::array<uint8_t, 68> t{};
    for (unsigned b = 0; b < 256; ++b)
      if (!printable_byte(b)) t[byte_to_unicode(static_cast<uint8_t>(b)) - 256] = static_cast<uint8_t>(b);
    return t;
  }();
  return inverse[cp - 256];
}

std::size_t Vocab::size() const {
  std::size_t n = tokens.size();
  for (const AddedToken& t : added) n = std::max(n, static_cast<std::size_t>(t.id) + 1);
  return n;
}

const std::string* Vocab::token(int32_t id) const {
  if (id >= 0 && static_cast<std::size_t>(id) < tokens.size() && !tokens[id].empty()) return &tokens[id];
  for (const AddedToken& t : added)
    if (t.id == id) return &t.content;
  return nullptr;
}

int32_t Vocab::find(std::string_view token) const {
  auto it = ids.find(token);
  return it == ids.end() ? -1 : it->second;
}

std::string gunzip(std::string_view data, const std::string& source, std::size_t max_lines) {
  z_stream zs{};
  CLIPKIT_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, source, ": cannot start gzip decompression");
  // With a line limit, inflate in slices so decompression can stop early.
  const std::size_t slice = max_lines == std::string::npos ? std::size_t{UINT32_MAX} : std::size_t{1} << 18;
  std::string out;
  out.resize(std::max<std::size_t>(data.size() * 4, 1 << 16));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::size_t lines = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.total_out == out.size()) out.resize(out.size() * 2);
    const std::size_t before = zs.total_out;
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    zs.avail_out = static_cast<uInt>(std::min(out.size() - before, slice));
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      const std::size_t at = zs.total_in;
      inflateEnd(&zs);
      fail(source, ": damaged gzip data near compressed byte ", at);
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      fail(source, ": gzip data ends early (", data.size(), " bytes)");
    }
    if (max_lines != std::string::npos) {
      lines += static_cast<std::size_t>(std::count(out.data() + before, out.data() + zs.total_out, '\n'));
      if (lines >= max_lines) break;
    }
  }
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

Vocab parse_openai_bpe(std::string_view text, const std::string& source) {
  Vocab v;
  v.source = source;
  // Lines as Python's str.split('\n') gives them: line 0 is the header. Only the lines used are
  // checked as UTF-8 (a truncated decompression may end inside a character).
  {
    std::size_t end = std::string_view::npos, from = 0;
    for (std::size_t line = 0; line <= kOpenAiMerges; ++line) {
      end = text.find('\n', from);
      if (end == std::string_view::npos) break;
      from = end + 1;
    }
    check_utf8(text.substr(0, end), source);
  }
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(kOpenAiMerges);
  std::size_t pos = text.find('\n');
  CLIPKIT_CHECK(pos != std::string_view::npos, source, ": no merge lines after the header");
  for (std::size_t line = 1; line <= kOpenAiMerges; ++line) {
    CLIPKIT_CHECK(pos != std::string_view::npos, source, ": has ", line - 1, " merge lines, ",
                  kOpenAiMerges, " are needed");
    const std::size_t begin = pos + 1;
    pos = text.find('\n', begin);
    std::string_view l = text.substr(begin, pos == std::string_view::npos ? std::string_view::npos : pos - begin);
    // Python's str.split() with no argument: runs of white space; the file uses single spaces.
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    std::pair<std::string, std::string> m;
    CLIPKIT_CHECK(split_merge(l, m), source, ": line ", line + 1, " is not a merge of two symbols");
    merges.push_back(std::move(m));
  }
  // The vocabulary in simple_tokenizer.py's order.
  v.ids.reserve(2 * (512 + merges.size() + 2));
  const ByteTables& bt = byte_tables();
  int32_t id = 0;
  for (uint8_t b : bt.order) set_token(v, byte_symbol(b), id++);
  for (uint8_t b : bt.order) set_token(v, byte_symbol(b) + std::string(kEow), id++);
  for (const auto& [a, b] : merges) set_token(v, a + b, id++);
  set_token(v, std::string(kSot), id++);
  set_token(v, std::string(kEot), id++);
  finish(v, merges);
  return v;
}

Vocab load_embedded_vocab() {
  const std::string name = "embedded bpe_simple_vocab_16e6.txt.gz";
  return parse_openai_bpe(gunzip(embedded_vocab_gz(), name, kOpenAiMerges + 1), name);
}

Vocab load_openai_bpe_file(const fs::path& path) {
  std::string data = read_text(path);
  const bool gz = data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
                  static_cast<unsigned char>(data[1]) == 0x8b;
  if (gz) data = gunzip(data, path.string(), kOpenAiMerges + 1);
  return parse_openai_bpe(data, path.string());
}

Vocab load_vocab_merges(const fs::path& vocab_json, const fs::path& merges_txt) {
  Vocab v;
  v.source = vocab_json.string();
  const json j = parse_json(vocab_json);
  CLIPKIT_CHECK(j.is_object(), vocab_json.string(), ": expected a {token: id} object");
  for (const auto& [tok, id] : j.items()) {
    CLIPKIT_CHECK(id.is_number_integer(), vocab_json.string(), ": id of '", tok, "' is not an integer");
    set_token(v, tok, id.get<int32_t>());
  }
  // merges.txt as the tokenizers library reads it: a "#version" header, then "a b" per line.
  const std::string text = read_text(merges_txt);
  check_utf8(text, merges_txt.string());
  std::vector<std::pair<std::string, std::string>> merges;
  std::size_t begin = 0, line = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string_view l(text.data() + begin, end - begin);
    ++line;
    begin = end + 1;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty() || (line == 1 && l.substr(0, 8) == "#version")) continue;
    std::pair<std::string, std::string> m;
    CLIPKIT_CHECK(split_merge(l, m), merges_txt.string(), ": line ", line, " is not a merge of two symbols");
    merges.push_back(std::move(m));
  }
  read_transformers_added_tokens(v, vocab_json.parent_path());
  read_special_tokens_map(v, vocab_json.parent_path());
  finish(v, merges);
  v.source = vocab_json.parent_path().string();
  return v;
}

Vocab load_tokenizer_json(const fs::path& path) {
  Vocab v;
  v.source = path.string();
  const json j = parse_json(path);
  CLIPKIT_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(), v.source, ": no 'model' object");
  const json& model = j["model"];
  if (model.contains("type") && model["type"].is_string())
    CLIPKIT_CHECK(model["type"] == "BPE", v.source, ": model type '", model["type"].get<std::string>(),
                  "' is not BPE");
  if (model.contains("end_of_word_suffix") && model["end_of_word_suffix"].is_string())
    CLIPKIT_CHECK(model["end_of_word_suffix"] == "</w>", v.source, ": end_of_word_suffix '",
                  model["end_of_word_suffix"].get<std::string>(), "' is not CLIP's '</w>'");
  if (model.contains("ignore_merges") && model["ignore_merges"].is_boolean())
    v.ignore_merges = model["ignore_merges"].get<bool>();
  CLIPKIT_CHECK(model.contains("vocab") && model["vocab"].is_object(), v.source, ": no model.vocab object");
  for (const auto& [tok, id] : model["vocab"].items()) {
    CLIPKIT_CHECK(id.is_number_integer(), v.source, ": id of '", tok, "' is not an integer");
    set_token(v, tok, id.get<int32_t>());
  }
  std::vector<std::pair<std::string, std::string>> merges;
  if (model.contains("merges")) {
    CLIPKIT_CHECK(model["merges"].is_array(), v.source, ": model.merges is not a list");
    for (const json& m : model["merges"]) {
      std::pair<std::string, std::string> p;
      if (m.is_string()) {
        CLIPKIT_CHECK(split_merge(m.get<std::string>(), p), v.source, ": merge ", merges.size(),
                      " is not two symbols");
      } else {
        CLIPKIT_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), v.source,
                      ": merge ", merges.size(), " is neither \"a b\" nor [a, b]");
        p = {m[0].get<std::string>(), m[1].get<std::string>()};
      }
      merges.push_back(std::move(p));
    }
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const json& t : j["added_tokens"]) read_added_token(v, t, v.source);
  read_transformers_added_tokens(v, path.parent_path());
  read_special_tokens_map(v, path.parent_path());
  finish(v, merges);
  return v;
}

Vocab load_vocab_folder(const fs::path& dir) {
  CLIPKIT_CHECK(fs::is_directory(dir), dir.string(), ": not a folder");
  if (fs::is_regular_file(dir / "tokenizer.json")) return load_tokenizer_json(dir / "tokenizer.json");
  if (fs::is_regular_file(dir / "vocab.json") && fs::is_regular_file(dir / "merges.txt"))
    return load_vocab_merges(dir / "vocab.json", dir / "merges.txt");
  if (fs::is_regular_file(dir / "bpe_simple_vocab_16e6.txt.gz"))
    return load_openai_bpe_file(dir / "bpe_simple_vocab_16e6.txt.gz");
  fail(dir.string(), ": no tokenizer files (looked for tokenizer.json, vocab.json + merges.txt, "
                     "bpe_simple_vocab_16e6.txt.gz)");
}

}  // namespace clipkit::text
