#include "text/ftfy_codecs.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "text/utf8.h"

namespace clipkit::text::ftfy {
namespace {

// For each charmap, the characters that bytes 0x80..0xFF and 0x1A decode to, sorted, with their
// bytes. All other bytes are ASCII and encode as themselves.
struct EncodeTable {
  std::array<std::pair<char32_t, std::uint8_t>, 129> entries;
};

const std::array<EncodeTable, kNumCharmaps>& encode_tables() {
  static const std::array<EncodeTable, kNumCharmaps> tables = [] {
    std::array<EncodeTable, kNumCharmaps> t{};
    for (int m = 0; m < kNumCharmaps; ++m) {
      std::size_t k = 0;
      for (int b = 0x80; b < 0x100; ++b) t[m].entries[k++] = {kCharmapDecode[m][b], std::uint8_t(b)};
      t[m].entries[k++] = {kCharmapDecode[m][0x1A], std::uint8_t(0x1A)};
      std::sort(t[m].entries.begin(), t[m].entries.end());
    }
    return t;
  }();
  return tables;
}

// The byte c encodes to in charmap m, or -1.
int encode_char(char32_t c, int m) {
  if (c < 0x80 && c != 0x1A) return static_cast<int>(c);
  const auto& e = encode_tables()[m].entries;
  auto it = std::lower_bound(e.begin(), e.end(), std::pair<char32_t, std::uint8_t>{c, 0});
  if (it == e.end() || it->first != c) return -1;
  return it->second;
}

inline bool in(unsigned char b, unsigned lo, unsigned hi) { return b >= lo && b <= hi; }

}  // namespace

bool possible_encoding(std::u32string_view text, int charmap) {
  for (char32_t c : text) {
    if (encode_char(c, charmap) < 0) return false;
  }
  return true;
}

void encode_charmap(std::u32string_view text, int charmap, std::string& out) {
  out.clear();
  out.reserve(text.size());
  for (char32_t c : text) out.push_back(static_cast<char>(encode_char(c, charmap)));
}

bool decode_utf8_strict(std::string_view bytes, std::u32string& out) {
  out.clear();
  std::size_t i = 0;
  while (i < bytes.size()) {
    char32_t cp = 0;
    const int len = decode_one(bytes, i, cp);
    if (len == 0) return false;
    out.push_back(cp);
    i += static_cast<std::size_t>(len);
  }
  return true;
}

bool decode_utf8_variants(std::string_view bytes, std::u32string& out) {
  // ftfy's decoder hands everything to the standard decoder except at two kinds of spots, found
  // with bytes regexes whose '$' also matches just before a final b'\n':
  //   0xC0 then (0x80 | end): the Java null, decoded as U+0000 from the two bytes there;
  //   0xED then a six-byte CESU-8 surrogate pair, decoded as the supplementary character.
  // Anything else that is not standard UTF-8 (lone surrogates included) is a decode error.
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  out.clear();
  std::size_t i = 0;
  while (i < n) {
    if (p[i] == 0xC0) {
      const bool null = i + 1 < n && (p[i + 1] == 0x80 || (i + 2 == n && p[i + 1] == '\n'));
      if (!null) return false;
      out.push_back(0);
      i += 2;
      continue;
    }
    if (p[i] == 0xED && i + 1 < n && p[i + 1] >= 0xA0) {
      // A surrogate: only a complete CESU-8 pair decodes (its last byte may be the final '\n'
      // that Python's '$' matches before).
      if (n - i < 6) return false;
      const bool last_ok = in(p[i + 5], 0x80, 0xBF) || (n - i == 6 && p[i + 5] == '\n');
      if (!(in(p[i + 1], 0xA0, 0xAF) && in(p[i + 2], 0x80, 0xBF) && p[i + 3] == 0xED &&
            in(p[i + 4], 0xB0, 0xBF) && last_ok)) {
        return false;
      }
      const char32_t cp = ((p[i + 1] & 0x0Fu) << 16) + ((p[i + 2] & 0x3Fu) << 10) +
                          ((p[i + 4] & 0x0Fu) << 6) + (p[i + 5] & 0x3Fu) + 0x10000;
      out.push_back(cp);
      i += 6;
      continue;
    }
    char32_t cp = 0;
    const int len = decode_one(bytes, i, cp);
    if (len == 0) return false;
    out.push_back(cp);
    i += static_cast<std::size_t>(len);
  }
  return true;
}

namespace {

// [\x80-\x84\x86-\x9f\xa1-\xbf]: continuation bytes other than 0x85 and 0xA0.
inline bool altered_cont(unsigned char b) { return in(b, 0x80, 0xBF) && b != 0x85 && b != 0xA0; }
inline bool cont(unsigned char b) { return in(b, 0x80, 0xBF); }

// The length of the ALTERED_UTF8_RE match at p[i], or 0. Its alternatives, in order:
//   [C2 C3 C5 CE D0 D9] ' '
//   [E2 E3] ' ' altered_cont  |  [E0-E3] altered_cont ' '
//   F0 ' ' cont cont  |  F0 cont ' ' cont  |  F0 cont cont ' '
std::size_t altered_match(const unsigned char* p, std::size_t n, std::size_t i) {
  const unsigned char b = p[i];
  auto at = [&](std::size_t k) -> int { return i + k < n ? p[i + k] : -1; };
  if (b == 0xC2 || b == 0xC3 || b == 0xC5 || b == 0xCE || b == 0xD0 || b == 0xD9) {
    return at(1) == ' ' ? 2 : 0;
  }
  if (in(b, 0xE0, 0xE3)) {
    if ((b == 0xE2 || b == 0xE3) && at(1) == ' ' && at(2) >= 0 && altered_cont(p[i + 2])) return 3;
    if (at(1) >= 0 && altered_cont(p[i + 1]) && at(2) == ' ') return 3;
    return 0;
  }
  if (b == 0xF0 && i + 3 < n) {
    const unsigned char b1 = p[i + 1], b2 = p[i + 2], b3 = p[i + 3];
    if (b1 == ' ' && cont(b2) && cont(b3)) return 4;
    if (cont(b1) && b2 == ' ' && cont(b3)) return 4;
    if (cont(b1) && cont(b2) && b3 == ' ') return 4;
  }
  return 0;
}

bool starts_with(const unsigned char* p, std::size_t n, std::size_t i, std::string_view s) {
  return n - i >= s.size() && std::equal(s.begin(), s.end(), p + i,
                                         [](char a, unsigned char b) { return (unsigned char)a == b; });
}

}  // namespace

bool has_altered_utf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (p[i] >= 0xC2 && altered_match(p, bytes.size(), i) > 0) return true;
  }
  return false;
}

void restore_byte_a0(std::string& bytes) {
  // First "à" as a word of its own: 0xC3 then a space that is not followed by another space or
  // by the Portuguese "quele", "quela", "quilo", "s " gets its 0xA0 back, keeping the space.
  std::string a;
  a.reserve(bytes.size() + 8);
  {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (p[i] == 0xC3 && i + 1 < n && p[i + 1] == ' ') {
        const std::size_t j = i + 2;
        const bool excepted = starts_with(p, n, j, " ") || starts_with(p, n, j, "quele") ||
                              starts_with(p, n, j, "quela") || starts_with(p, n, j, "quilo") ||
                              starts_with(p, n, j, "s ");
        if (!excepted) {
          a += "\xC3\xA0 ";
          ++i;
          continue;
        }
      }
      a.push_back(static_cast<char>(p[i]));
    }
  }
  // Then every ALTERED_UTF8_RE match has its spaces turned into 0xA0.
  const auto* p = reinterpret_cast<const unsigned char*>(a.data());
  const std::size_t n = a.size();
  bytes.clear();
  for (std::size_t i = 0; i < n;) {
    const std::size_t len = p[i] >= 0xC2 ? altered_match(p, n, i) : 0;
    if (len == 0) {
      bytes.push_back(static_cast<char>(p[i]));
      ++i;
      continue;
    }
    for (std::size_t k = 0; k < len; ++k) {
      bytes.push_back(p[i + k] == ' ' ? '\xA0' : static_cast<char>(p[i + k]));
    }
    i += len;
  }
}

namespace {

// The length of the LOSSY_UTF8_RE match at p[i], or 0, trying its alternatives in order.
std::size_t lossy_match(const unsigned char* p, std::size_t n, std::size_t i) {
  auto at = [&](std::size_t k) -> int { return i + k < n ? p[i + k] : -1; };
  auto sub = [](int b) { return b == 0x1A; };                            // [\x1a]
  auto sub_q = [](int b) { return b == 0x1A || b == '?'; };              // [\x1a?]
  auto sub_c = [](int b) { return b == 0x1A || (b >= 0x80 && b <= 0xBF); };  // [\x1a\x80-\xbf]
  auto sub_q_c = [](int b) { return b == 0x1A || b == '?' || (b >= 0x80 && b <= 0xBF); };
  const int b0 = p[i];
  if (b0 == 0x1A) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (sub(at(1))) return 2;
    if (b0 <= 0xC3 && at(1) == '?') return 2;
    return 0;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (b0 == 0xED) {
      const int b1 = at(1), b2 = at(2), b3 = at(3), b4 = at(4), b5 = at(5);
      const bool hi = b1 >= 0xA0 && b1 <= 0xAF, lo = b4 >= 0xB0 && b4 <= 0xBF;
      if (hi && sub_q(b2) && b3 == 0xED && lo && sub_q_c(b5)) return 6;
      if (hi && sub_q_c(b2) && b3 == 0xED && lo && sub_q(b5)) return 6;
    }
    if (sub_q(at(1)) && sub_c(at(2))) return 3;
    if (sub_c(at(1)) && sub_q(at(2))) return 3;
    return 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const int b1 = at(1), b2 = at(2), b3 = at(3);
    if (sub_q(b1) && sub_c(b2) && sub_c(b3)) return 4;
    if (sub_c(b1) && sub_q(b2) && sub_c(b3)) return 4;
    if (sub_c(b1) && sub_c(b2) && sub_q(b3)) return 4;
  }
  return 0;
}

}  // namespace

void replace_lossy_sequences(std::string& bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  for (; i < n; ++i) {
    if (lossy_match(p, n, i) > 0) break;
  }
  if (i == n) return;
  std::string out(bytes.data(), i);
  out.reserve(n + 8);
  while (i < n) {
    const std::size_t len = lossy_match(p, n, i);
    if (len == 0) {
      out.push_back(static_cast<char>(p[i]));
      ++i;
    } else {
      out += "\xEF\xBF\xBD";
      i += len;
    }
  }
  bytes.swap(out);
}

}  // namespace clipkit::text::ftfy
