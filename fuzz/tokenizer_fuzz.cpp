// libFuzzer target: arbitrary bytes through the whole tokenizer (UTF-8 check or replacement,
// clean-up, pre-tokenizer, BPE, rows, decode) in both clean-up modes. Besides crashes, leaks and
// sanitizer reports it traps on broken invariants: ids inside the vocabulary, rows of the
// requested length starting with SOT and holding EOT, decode producing valid UTF-8, pieces in
// order and inside the text.
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target tokenizer_fuzz
//   build/fuzz/tokenizer_fuzz -max_total_time=60 -max_len=4096
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "text/pretokenize.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace {

using namespace clipkit::text;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_ids(const Tokenizer& t, const std::vector<int32_t>& ids) {
  for (int32_t id : ids) check(id >= 0 && static_cast<std::size_t>(id) < t.vocab_size());
  const std::string back = t.decode(ids);
  check(find_invalid_utf8(back) == std::string_view::npos);
}

void check_rows(const Tokenizer& t, const std::vector<int32_t>& ids, uint8_t flags) {
  TokenizeOptions o;
  o.context_length = 3 + (flags >> 3) % 80;
  o.overflow = static_cast<Overflow>((flags >> 1) % 3);
  if (flags & 0x80) o.pad_id.reset();
  std::vector<std::vector<int32_t>> rows;
  try {
    rows = t.make_rows(ids, o);
  } catch (const clipkit::Error&) {
    check(o.overflow == Overflow::error && ids.size() + 2 > static_cast<std::size_t>(o.context_length));
    return;
  }
  check(!rows.empty());
  for (const auto& row : rows) {
    check(row.size() <= static_cast<std::size_t>(o.context_length));
    if (o.pad_id) check(row.size() == static_cast<std::size_t>(o.context_length));
    check(row[0] == t.sot_id());
    bool has_eot = false;
    for (int32_t id : row) has_eot |= id == t.eot_id();
    check(has_eot);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizer strict = Tokenizer::openai();
  static const Tokenizer lenient = Tokenizer::openai({Normalization::openai, true});
  static const Tokenizer hf = Tokenizer::openai({Normalization::transformers, true});
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool valid = find_invalid_utf8(text) == std::string_view::npos;

  try {
    strict.encode(text);
    check(valid);
  } catch (const clipkit::Error&) {
    check(!valid);
  }
  for (const Tokenizer* t : {&lenient, &hf}) {
    const std::vector<int32_t> ids = t->encode(text);
    check_ids(*t, ids);
    check_rows(*t, ids, flags);
  }

  // The stages on their own, on the repaired text.
  const std::string fixed = valid ? std::string(text) : replace_invalid_utf8(text);
  check(find_invalid_utf8(fixed) == std::string_view::npos);
  for (PatternCase mode : {PatternCase::insensitive, PatternCase::sensitive}) {
    std::vector<Piece> pieces;
    pretokenize(fixed, mode, pieces);
    uint32_t end = 0;
    for (const Piece& p : pieces) {
      check(p.size > 0 && p.begin >= end && p.begin + p.size <= fixed.size());
      end = p.begin + p.size;
    }
  }
  check_ids(lenient, lenient.encode_cleaned(fixed));
  check_ids(hf, hf.encode_cleaned(fixed));
  return 0;
}
