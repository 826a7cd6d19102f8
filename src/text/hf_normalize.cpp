#include "text/hf_normalize.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "core/error.h"
#include "text/unicode_props.h"
#include "text/utf8.h"

namespace clipkit::text {
namespace {

using unicode::is_white_space;  // Unicode White_Space, as `\s` in the regex module

std::string nfc(std::string_view text) {
  // Pure ASCII is already in NFC.
  bool ascii = true;
  for (char c : text) ascii &= static_cast<unsigned char>(c) < 0x80;
  if (ascii) return std::string(text);
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> guard(out, &std::free);
  CLIPKIT_CHECK(n >= 0, "NFC normalisation failed: ", utf8proc_errmsg(n));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

}  // namespace

std::string transformers_normalize(std::string_view text) {
  const std::string composed = nfc(text);
  std::string out;
  out.reserve(composed.size());
  std::size_t i = 0;
  bool in_space = false;
  while (i < composed.size()) {
    const char32_t cp = next_code_point(composed, i);
    if (is_white_space(cp)) {
      if (!in_space) out.push_back(' ');
      in_space = true;
      continue;
    }
    in_space = false;
    if (cp == 0x130) {
      out.append("i\xCC\x87");  // İ: the one unconditional multi-character lower-case mapping
      continue;
    }
    append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
  }
  return out;
}

}  // namespace clipkit::text
