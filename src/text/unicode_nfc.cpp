// NFC through utf8proc (decompose, canonical order, compose), kept equal to Python 3.11's.
//
// utf8proc 2.8 implements Unicode 15.0 while Python 3.11 implements 14.0. The two agree on every
// canonical decomposition (checked over all code points); they differ only in the combining
// class of ten marks new in Unicode 15, listed below. Python sees those as unassigned code
// points: starters that compose with nothing, so NFC never reorders or composes across them and
// normalising the pieces between them separately gives Python's result exactly.
#include <utf8proc.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "text/unicode_nfc.h"
#include "text/unicode_props.h"

namespace clipkit::text::unicode {
namespace {

bool new_in_unicode15_mark(char32_t c) {
  return (c >= 0x10EFD && c <= 0x10EFF) || c == 0x11F41 || c == 0x11F42 || c == 0x1E08F ||
         (c >= 0x1E4EC && c <= 0x1E4EF);
}

constexpr utf8proc_option_t kNfcOptions =
    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);

// Appends NFC(s[begin, end)) to out, using buf as scratch.
void nfc_piece(const std::u32string& s, std::size_t begin, std::size_t end, std::u32string& out,
               std::vector<utf8proc_int32_t>& buf) {
  buf.clear();
  for (std::size_t i = begin; i < end; ++i) {
    utf8proc_int32_t tmp[8];
    int last_boundclass = 0;
    auto n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(s[i]), tmp, 8, kNfcOptions,
                                     &last_boundclass);
    if (n < 0 || n > 8) {  // cannot happen for canonical decompositions (at most 4 long)
      buf.push_back(static_cast<utf8proc_int32_t>(s[i]));
      continue;
    }
    buf.insert(buf.end(), tmp, tmp + n);
  }
  // Canonical ordering: a stable sort of each run of non-starters by combining class, done the
  // way utf8proc_decompose_custom does it.
  std::size_t pos = 0;
  while (buf.size() > 1 && pos < buf.size() - 1) {
    const int c1 = utf8proc_get_property(buf[pos])->combining_class;
    const int c2 = utf8proc_get_property(buf[pos + 1])->combining_class;
    if (c1 > c2 && c2 > 0) {
      std::swap(buf[pos], buf[pos + 1]);
      if (pos > 0) --pos; else ++pos;
    } else {
      ++pos;
    }
  }
  const auto len = utf8proc_normalize_utf32(buf.data(), static_cast<utf8proc_ssize_t>(buf.size()),
                                            kNfcOptions);
  for (utf8proc_ssize_t i = 0; i < len; ++i) out.push_back(static_cast<char32_t>(buf[i]));
}

}  // namespace

void nfc_inplace(std::u32string& s) {
  // The quick check: text without any NFC-unstable character is already normalised.
  if (std::none_of(s.begin(), s.end(), is_nfc_unstable)) return;

  thread_local std::vector<utf8proc_int32_t> buf;
  std::u32string out;
  out.reserve(s.size());
  std::size_t begin = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (new_in_unicode15_mark(s[i])) {
      nfc_piece(s, begin, i, out, buf);
      out.push_back(s[i]);
      begin = i + 1;
    }
  }
  nfc_piece(s, begin, s.size(), out, buf);
  s.swap(out);
}

}  // namespace clipkit::text::unicode
