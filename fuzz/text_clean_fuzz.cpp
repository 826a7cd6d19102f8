// libFuzzer target for the text clean-up: arbitrary bytes, of which valid UTF-8 (the clean-up's
// contract) is run through every public step. Nothing may crash, hang or produce ill-formed
// UTF-8; the only exception allowed is the one Python itself raises (a decimal character
// reference longer than int() converts).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "text/clean.h"
#include "text/utf8.h"

namespace {

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const int len = clipkit::text::decode_one(s, i, cp);
    if (len == 0) return false;
    i += static_cast<std::size_t>(len);
  }
  return true;
}

void check(const std::string& out) {
  if (!valid_utf8(out)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!valid_utf8(text)) return 0;
  try {
    check(clipkit::text::ftfy_fix_text(text));
    check(clipkit::text::html_unescape(text));
    check(clipkit::text::clean_text(text));
  } catch (const clipkit::Error&) {
  }
  check(clipkit::text::python_lower(text));
  check(clipkit::text::whitespace_clean(text));
  return 0;
}
