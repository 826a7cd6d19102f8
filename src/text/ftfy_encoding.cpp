#include "text/ftfy_encoding.h"

#include <array>

#include "text/ftfy_badness.h"
#include "text/ftfy_codecs.h"
#include "text/ftfy_data.h"

namespace clipkit::text::ftfy {
namespace {

// Python's fix_encoding loops until the text stops changing. Every real fix shortens the text or
// stops at a fixed point within a few rounds; the bound only guarantees termination on input
// crafted to cycle.
constexpr int kMaxRounds = 64;

bool has_c1(std::u32string_view text) {
  for (char32_t c : text) {
    if (c >= 0x80 && c <= 0x9F) return true;
  }
  return false;
}

// The length of the UTF8_DETECTOR_RE match starting at text[i] (lookbehind aside), or 0:
// one or more of  first_of_2 cont | first_of_3 cont cont | first_of_4 cont cont cont,
// each repetition taking the first alternative that fits.
std::size_t utf8_run(std::u32string_view text, std::size_t i) {
  const std::size_t n = text.size();
  auto conts = [&](std::size_t from, std::size_t count) {
    if (from + count > n) return false;
    for (std::size_t k = from; k < from + count; ++k) {
      if (!(char_classes(text[k]) & kContinuation)) return false;
    }
    return true;
  };
  std::size_t j = i;
  while (j < n) {
    const std::uint32_t b = char_classes(text[j]);
    if ((b & kFirstOf2) && conts(j + 1, 1)) {
      j += 2;
    } else if ((b & kFirstOf3) && conts(j + 1, 2)) {
      j += 3;
    } else if ((b & kFirstOf4) && conts(j + 1, 3)) {
      j += 4;
    } else {
      break;
    }
  }
  return j - i;
}

bool utf8_detector_at(std::u32string_view text, std::size_t i, std::size_t& len) {
  if (i > 0 && (char_classes(text[i - 1]) & kContinuationStrict)) return false;
  len = utf8_run(text, i);
  return len > 0;
}

bool utf8_detector_search(std::u32string_view text) {
  std::size_t len = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (utf8_detector_at(text, i, len)) return true;
  }
  return false;
}

// fixes.decode_inconsistent_utf8: each stretch that looks like UTF-8 mojibake, is shorter than
// the whole text and is bad by itself gets fix_encoding on its own.
std::u32string decode_inconsistent_utf8(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t len = 0;
    if (!utf8_detector_at(text, i, len)) {
      out.push_back(text[i]);
      ++i;
      continue;
    }
    if (len < text.size() && is_bad(text.data() + i, len)) {
      out += fix_encoding(text.substr(i, len));
    } else {
      out.append(text, i, len);
    }
    i += len;
  }
  return out;
}

// One round of fix_encoding (ftfy's _fix_encoding_one_step_and_explain). Returns false when the
// round returns the text as it is; otherwise the result is in `fixed`.
bool fix_encoding_one_step(const std::u32string& text, std::u32string& fixed) {
  if (text.empty()) return false;
  bool ascii = true;
  for (char32_t c : text) {
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii || !is_bad(text.data(), text.size())) return false;

  // Suppose the text was UTF-8 that was decoded with a single-byte codec: encode it back and
  // decode it as UTF-8, trying the codecs in ftfy's order.
  std::array<bool, kNumCharmaps> possible{};
  std::string bytes;
  for (int m = 0; m < kNumCharmaps; ++m) {
    possible[m] = possible_encoding(text, m);
    if (!possible[m]) continue;
    encode_charmap(text, m, bytes);
    // Bytes 0xA0 that became spaces; not for MacRoman, where an en dash and a space would match.
    if (m != kMacRoman && has_altered_utf8(bytes)) restore_byte_a0(bytes);
    if (is_sloppy(m)) replace_lossy_sequences(bytes);
    const bool variants = bytes.find('\xED') != std::string::npos ||
                          bytes.find('\xC0') != std::string::npos;
    const bool ok = variants ? decode_utf8_variants(bytes, fixed) : decode_utf8_strict(bytes, fixed);
    if (ok) return true;
  }

  // Mojibake embedded in otherwise consistent text.
  if (utf8_detector_search(text)) {
    fixed = decode_inconsistent_utf8(text);
    if (fixed != text) return true;
  }

  // Latin-1 meant as Windows-1252. (ftfy also means to leave text alone when it fits
  // 'windows-1252', but its list of possible codecs only ever names 'sloppy-windows-1252', so
  // that test never passes; the strict decode below fails on 0x81 0x8D 0x8F 0x90 0x9D.)
  if (possible[kLatin1]) {
    fixed.clear();
    bool ok = true;
    for (char32_t c : text) {
      if (c >= 0x80 && c <= 0x9F) {
        const char32_t w = kCharmapDecode[kSloppy1252][c];
        if (w == c) {  // unassigned in Windows-1252
          ok = false;
          break;
        }
        fixed.push_back(w);
      } else {
        fixed.push_back(c);
      }
    }
    if (ok && fixed != text) return true;
  }

  if (has_c1(text)) {
    fixed = text;
    fix_c1_controls(fixed);
    return true;
  }
  return false;
}

}  // namespace

void fix_c1_controls(std::u32string& text) {
  for (char32_t& c : text) {
    if (c >= 0x80 && c <= 0x9F) c = kCharmapDecode[kSloppy1252][c];
  }
}

std::u32string fix_encoding(std::u32string text) {
  std::u32string next;
  for (int round = 0; round < kMaxRounds; ++round) {
    if (!fix_encoding_one_step(text, next) || next == text) break;
    text.swap(next);
  }
  return text;
}

}  // namespace clipkit::text::ftfy
