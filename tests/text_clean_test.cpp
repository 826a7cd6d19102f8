// Text clean-up against the reference: every case of tests/data/tokenizer/cases.jsonl (outputs of
// ftfy 6.3.1 and OpenAI's basic_clean/whitespace_clean/lower under Python 3.11), edge cases of
// the Python pieces (expected values are what Python 3.11.2 returns), and a bounded random test.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "text/clean.h"
#include "text/ftfy_encoding.h"
#include "text/ftfy_fixes.h"

namespace clipkit::text {
namespace {

struct Case {
  std::string id, category, text, ftfy, clean;
};

std::vector<Case> load_cases() {
  const std::string path = std::string(CLIPKIT_TEST_DATA) + "/tokenizer/cases.jsonl";
  std::ifstream in(path);
  std::vector<Case> cases;
  if (!in) return cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    cases.push_back({j.at("id").get<std::string>(), j.at("category").get<std::string>(),
                     j.at("text").get<std::string>(), j.at("ftfy").get<std::string>(),
                     j.at("clean").get<std::string>()});
  }
  return cases;
}

std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

TEST(TextClean, FixtureCases) {
  const auto cases = load_cases();
  if (cases.empty()) GTEST_SKIP() << "tests/data/tokenizer/cases.jsonl not found";
  EXPECT_EQ(cases.size(), 478u);

  struct Tally {
    int total = 0, ftfy_ok = 0, clean_ok = 0;
  };
  std::map<std::string, Tally> by_category;
  std::vector<std::string> failures;
  for (const auto& c : cases) {
    auto& t = by_category[c.category];
    ++t.total;
    std::string ftfy, clean;
    try {
      ftfy = ftfy_fix_text(c.text);
      clean = clean_text(c.text);
    } catch (const std::exception& e) {
      failures.push_back(c.id + " (" + c.category + "): threw " + e.what());
      continue;
    }
    const bool ftfy_ok = ftfy == c.ftfy, clean_ok = clean == c.clean;
    t.ftfy_ok += ftfy_ok;
    t.clean_ok += clean_ok;
    if (!ftfy_ok) {
      failures.push_back(c.id + " (" + c.category + ") ftfy: got \"" + escaped(ftfy) +
                         "\" want \"" + escaped(c.ftfy) + "\"");
    }
    if (!clean_ok) {
      failures.push_back(c.id + " (" + c.category + ") clean: got \"" + escaped(clean) +
                         "\" want \"" + escaped(c.clean) + "\"");
    }
  }

  std::printf("%-14s %6s %6s %6s\n", "category", "cases", "ftfy", "clean");
  Tally all;
  for (const auto& [name, t] : by_category) {
    std::printf("%-14s %6d %6d %6d\n", name.c_str(), t.total, t.ftfy_ok, t.clean_ok);
    all.total += t.total;
    all.ftfy_ok += t.ftfy_ok;
    all.clean_ok += t.clean_ok;
  }
  std::printf("%-14s %6d %6d %6d\n", "all", all.total, all.ftfy_ok, all.clean_ok);
  std::string list;
  for (const auto& f : failures) list += "  " + f + "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " mismatches:\n" << list;
}

// ---- ftfy 6.3.1's own documented examples (its docstrings, run as doctests by ftfy) ----------

std::string fix_encoding_utf8(const std::u32string& text) {
  std::string out;
  for (char32_t c : ftfy::fix_encoding(text)) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

TEST(TextClean, FtfyDocumentedExamples) {
  EXPECT_EQ(ftfy_fix_text("\u00E2\u0153\u201D No problems"), "\u2714 No problems");
  EXPECT_EQ(ftfy_fix_text("&macr;\\_(\u00E3\u0083\u0084)_/&macr;"), "\u00AF\\_(\u30C4)_/\u00AF");
  EXPECT_EQ(ftfy_fix_text("Broken text&hellip; it&#x2019;s \uFB02ubberi\uFB01c!"),
            "Broken text\u2026 it's flubberific!");
  EXPECT_EQ(ftfy_fix_text("\uFF2C\uFF2F\uFF35\uFF24\u3000\uFF2E\uFF2F\uFF29\uFF33\uFF25\uFF33"),
            "LOUD NOISES");
  EXPECT_EQ(ftfy_fix_text("s\u00C3\u00B3"), "s\u00F3");
  EXPECT_EQ(ftfy_fix_text("voil\u00C3 le travail"), "voil\u00E0 le travail");
  EXPECT_EQ(ftfy_fix_text("sch\u00C3\u00B6n"), "sch\u00F6n");
  EXPECT_EQ(fix_encoding_utf8(U"\u00C3\u00B3"), "\u00F3");
  EXPECT_EQ(fix_encoding_utf8(U"&ATILDE;&SUP3;"), "&ATILDE;&SUP3;");
  // unescape_html
  EXPECT_EQ(ftfy_fix_text("&lt;tag&gt;"), "<tag>");
  EXPECT_EQ(ftfy_fix_text("&Jscr;ohn &HilbertSpace;ancock"), "\U0001D4A5ohn \u210Bancock");
  EXPECT_EQ(ftfy_fix_text("&checkmark;"), "\u2713");
  EXPECT_EQ(ftfy_fix_text("P&eacute;rez"), "P\u00E9rez");
  EXPECT_EQ(ftfy_fix_text("P&EACUTE;REZ"), "P\u00C9REZ");
  EXPECT_EQ(ftfy_fix_text("BUNDESSTRA&SZLIG;E"), "BUNDESSTRASSE");
  EXPECT_EQ(ftfy_fix_text("&ntilde; &Ntilde; &NTILDE; &nTILDE;"), "\u00F1 \u00D1 \u00D1 &nTILDE;");
  // the other fixers
  EXPECT_EQ(ftfy_fix_text("\x1b[36;44mI'm blue, da ba dee da ba doo...\x1b[0m"),
            "I'm blue, da ba dee da ba doo...");
  EXPECT_EQ(ftfy_fix_text("\u201Chere\u2019s a test\u201D"), "\"here's a test\"");
  EXPECT_EQ(ftfy_fix_text("\uFB02u\uFB03e\uFB06"), "fluffiest");
  EXPECT_EQ(ftfy_fix_text("\uFF35\uFF80\uFF70\uFF9D"), "U\u30BF\u30FC\u30F3");
  EXPECT_EQ(ftfy_fix_text("This string is made of two things:\u20291. Unicode\u20282. Spite"),
            "This string is made of two things:\n1. Unicode\n2. Spite");
  EXPECT_EQ(ftfy_fix_text("Content-type: text/plain\r\n\r\nHi."), "Content-type: text/plain\n\nHi.");
  EXPECT_EQ(ftfy_fix_text("This is how Microsoft \r trolls Mac users"),
            "This is how Microsoft \n trolls Mac users");
  std::u32string nel = U"What is this \u0085 I don't even";
  ftfy::fix_line_breaks(nel);
  EXPECT_EQ(nel, U"What is this \n I don't even");
}

// ---- Python's html.unescape --------------------------------------------------------------

TEST(TextClean, HtmlUnescapeNamed) {
  EXPECT_EQ(html_unescape("&amp;"), "&");
  EXPECT_EQ(html_unescape("&amp"), "&");            // legacy name without ';'
  EXPECT_EQ(html_unescape("&ampx"), "&x");          // longest legacy prefix
  EXPECT_EQ(html_unescape("&notanentity;"), "\u00AC" "anentity;");
  EXPECT_EQ(html_unescape("&notin;"), "\u2209");
  EXPECT_EQ(html_unescape("&NotEqualTilde;"), "\u2242\u0338");  // two code points
  EXPECT_EQ(html_unescape("&AMP;"), "&");
  EXPECT_EQ(html_unescape("&aacutex"), "\u00E1x");
  EXPECT_EQ(html_unescape("&frac345"), "\u00BE" "5");
  EXPECT_EQ(html_unescape("&sup2;&sup23"), "\u00B2\u00B2" "3");
  EXPECT_EQ(html_unescape("&Agrave&Agrave;"), "\u00C0\u00C0");
  EXPECT_EQ(html_unescape("&nbspx"), "\u00A0x");
  EXPECT_EQ(html_unescape("&amp\rx"), "&\rx");      // \r does not end a name
  EXPECT_EQ(html_unescape("&gt\tx"), ">\tx");
  EXPECT_EQ(html_unescape("&ampé"), "&é");
  EXPECT_EQ(html_unescape("&éamp;"), "&éamp;");
  EXPECT_EQ(html_unescape("&zwj;&zwnj;"), "\u200D\u200C");
  // Names are cut at 32 characters; no prefix of these is a name.
  const std::string long_name = "&" + std::string(40, 'a') + ";";
  EXPECT_EQ(html_unescape(long_name), long_name);
  EXPECT_EQ(html_unescape("a&b&c"), "a&b&c");
  EXPECT_EQ(html_unescape("&"), "&");
  EXPECT_EQ(html_unescape("&;"), "&;");
  EXPECT_EQ(html_unescape("& amp;"), "& amp;");
  EXPECT_EQ(html_unescape("&#38;amp;"), "&amp;");   // one pass only
  EXPECT_EQ(html_unescape("no entities"), "no entities");
}

TEST(TextClean, HtmlUnescapeNumeric) {
  EXPECT_EQ(html_unescape("&#65;"), "A");
  EXPECT_EQ(html_unescape("&#x41;"), "A");
  EXPECT_EQ(html_unescape("&#X41"), "A");
  EXPECT_EQ(html_unescape("&#65a"), "Aa");
  EXPECT_EQ(html_unescape("&#0;"), "\uFFFD");
  EXPECT_EQ(html_unescape("&#x110000;"), "\uFFFD");
  EXPECT_EQ(html_unescape("&#xD800;"), "\uFFFD");
  EXPECT_EQ(html_unescape("&#99999999999999999999;"), "\uFFFD");
  EXPECT_EQ(html_unescape("&#128;"), "\u20AC");
  EXPECT_EQ(html_unescape("&#129;"), "\u0081");
  EXPECT_EQ(html_unescape("&#157;"), "\u009D");
  EXPECT_EQ(html_unescape("&#13;"), "\r");
  EXPECT_EQ(html_unescape("&#28;&#11;&#127;"), "");
  EXPECT_EQ(html_unescape("&#xFFFE;&#x10FFFF;&#xFDD0;"), "");
  EXPECT_EQ(html_unescape("&#x1F600;"), "\U0001F600");
  EXPECT_EQ(html_unescape("&#"), "&#");
  EXPECT_EQ(html_unescape("&#x"), "&#x");
  EXPECT_EQ(html_unescape("&#xg;"), "&#xg;");
  EXPECT_EQ(html_unescape("&#x" + std::string(5000, '0') + "41;"), "A");
  EXPECT_EQ(html_unescape("&#" + std::string(4298, '0') + "65;"), "A");
  // Python 3.11's int() refuses more than 4300 decimal digits, so html.unescape raises.
  EXPECT_THROW(html_unescape("&#" + std::string(4300, '0') + "65;"), clipkit::Error);
}

// ---- Python's str.lower() -----------------------------------------------------------------

TEST(TextClean, PythonLower) {
  EXPECT_EQ(python_lower("Hello WORLD 123"), "hello world 123");
  EXPECT_EQ(python_lower("ΟΔΟΣ"), "οδος" /* ends in U+03C2 */);
  EXPECT_EQ(python_lower("ΟΔΟΣ"), "\u03BF\u03B4\u03BF\u03C2");
  EXPECT_EQ(python_lower("Σ"), "\u03C3");
  EXPECT_EQ(python_lower("ΑΣ."), "\u03B1\u03C2.");
  EXPECT_EQ(python_lower("ΑΣ'Α"), "\u03B1\u03C3'\u03B1");   // ' is case-ignorable
  EXPECT_EQ(python_lower("ΑΣ'"), "\u03B1\u03C2'");
  EXPECT_EQ(python_lower("'Σ"), "'\u03C3");
  EXPECT_EQ(python_lower("A\u03A3\u0308"), "a\u03C2\u0308");
  EXPECT_EQ(python_lower("A\u03A3\u0345"), "a\u03C2\u0345");
  EXPECT_EQ(python_lower("ΣΑ"), "\u03C3\u03B1");
  EXPECT_EQ(python_lower("ΑΣΣ"), "\u03B1\u03C3\u03C2");
  EXPECT_EQ(python_lower("Σ Σ"), "\u03C3 \u03C3");
  EXPECT_EQ(python_lower("İstanbul"), "i\u0307stanbul");
  EXPECT_EQ(python_lower("\u1E9E"), "\u00DF");
  EXPECT_EQ(python_lower("\u2166"), "\u2176");
  EXPECT_EQ(python_lower("\u01C5"), "\u01C6");
  EXPECT_EQ(python_lower("\u1F88\u1FBC"), "\u1F80\u1FB3");
  EXPECT_EQ(python_lower("K\u212A"), "kk");
  EXPECT_EQ(python_lower("ႠႡ"), "\u2D00\u2D01");          // Georgian
  EXPECT_EQ(python_lower("ԱԲ"), "\u0561\u0562");            // Armenian
  EXPECT_EQ(python_lower(""), "");
}

// ---- whitespace_clean ---------------------------------------------------------------------

TEST(TextClean, WhitespaceClean) {
  EXPECT_EQ(whitespace_clean("  a \t\n b  "), "a b");
  EXPECT_EQ(whitespace_clean("a\u00A0\u2003\u3000b"), "a b");
  EXPECT_EQ(whitespace_clean("a\u0085b\u2028c\u2029d\u202Fe\u205Ff\u1680g"), "a b c d e f g");
  EXPECT_EQ(whitespace_clean("a\x0B\x0C\rb"), "a b");
  // Not White_Space: zero-width space, word joiner, Mongolian vowel separator.
  EXPECT_EQ(whitespace_clean("a\u200Bb\u2060c\u180Ed"), "a\u200Bb\u2060c\u180Ed");
  // U+001C..U+001F are not White_Space (kept inside) but str.strip() removes them at the ends.
  EXPECT_EQ(whitespace_clean("\x1C" "a\x1F" "b \x1E"), "a\x1F" "b");
  EXPECT_EQ(whitespace_clean(" \t "), "");
  EXPECT_EQ(whitespace_clean(""), "");
}

TEST(TextClean, CleanTextPipeline) {
  EXPECT_EQ(clean_text("  A Photo of a CAT  "), "a photo of a cat");
  EXPECT_EQ(clean_text("fish &amp;amp;amp; chips"), "fish & chips");
  // ftfy does not unescape once a '<' is seen; CLIP's own two passes still run.
  EXPECT_EQ(clean_text("<b>Tom &amp;amp; Jerry</b>"), "<b>tom & jerry</b>");
  EXPECT_EQ(clean_text("caf\u00C3\u00A9"), "caf\u00E9");
  EXPECT_EQ(clean_text("\u200B"), "\u200B");
  EXPECT_EQ(clean_text(""), "");
}

// ---- bounded random test ------------------------------------------------------------------

// A random string of valid UTF-8 mixing the things the clean-up reacts to: mojibake made by
// encoding random characters as UTF-8 and reading the bytes back as Latin-1 or Windows-1252,
// C1 and C0 controls, entities, terminal escapes, combining marks, curly quotes, wide forms.
std::string random_text(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto utf8 = [](std::string& out, char32_t c) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  };
  static const char32_t kCp1252[32] = {
      0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160,
      0x2039, 0x152,  0x8D,   0x17D,  0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};
  auto random_scalar = [&]() -> char32_t {
    switch (pick(6)) {
      case 0: return 0x80 + static_cast<char32_t>(pick(0x780));
      case 1: return 0x800 + static_cast<char32_t>(pick(0x2000));
      case 2: return 0x3000 + static_cast<char32_t>(pick(0x100));
      case 3: return 0xFF00 + static_cast<char32_t>(pick(0xF0));
      case 4: return 0x1F300 + static_cast<char32_t>(pick(0x300));
      default: {
        char32_t c = static_cast<char32_t>(pick(0x10FFFF));
        return (c >= 0xD800 && c <= 0xDFFF) ? 0xFFFD : c;
      }
    }
  };
  static const char* kSnippets[] = {"&amp;", "&lt;", "&#39;", "&#x1F600;", "&eacute;", "&EACUTE;",
                                    "&nbsp", "&#0;", "\x1b[31m", "\x1b[0m", "\r\n", "\n", " ",
                                    "<", ">", "\xC3\x83 ", "\xE2\x80\x9C", "\xCC\x88"};
  std::string out;
  const int parts = 1 + pick(24);
  for (int p = 0; p < parts; ++p) {
    switch (pick(8)) {
      case 0:  // ASCII word
        for (int k = pick(8); k >= 0; --k) out.push_back(static_cast<char>('a' + pick(26)));
        break;
      case 1:  // mojibake: UTF-8 bytes of a character read as Latin-1 / sloppy Windows-1252
      case 2: {
        std::string bytes;
        utf8(bytes, random_scalar());
        const bool cp1252 = pick(2) == 0;
        for (unsigned char b : bytes) {
          char32_t c = b;
          if (cp1252 && b >= 0x80 && b < 0xA0) c = kCp1252[b - 0x80];
          if (pick(12) == 0 && b == 0xA0) c = ' ';  // a lost no-break space
          utf8(out, c);
        }
        break;
      }
      case 3: utf8(out, random_scalar()); break;
      case 4: utf8(out, static_cast<char32_t>(pick(0x100))); break;  // C0, Latin-1, C1
      case 5: out += kSnippets[pick(sizeof kSnippets / sizeof kSnippets[0])]; break;
      case 6: utf8(out, 0x300 + static_cast<char32_t>(pick(0x70))); break;  // combining mark
      default: utf8(out, static_cast<char32_t>(0x2010 + pick(0x20))); break;
    }
  }
  return out;
}

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : b < 0xC2 ? 0 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF5 ? 4 : 0;
    if (len == 0 || i + static_cast<std::size_t>(len) > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += static_cast<std::size_t>(len);
  }
  return true;
}

TEST(TextClean, RandomInputsNeverCrashOrHang) {
  std::mt19937 rng(20240611);
  const auto start = std::chrono::steady_clock::now();
  int runs = 0;
  double slowest = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(3) && runs < 200000) {
    const std::string text = random_text(rng);
    const auto t0 = std::chrono::steady_clock::now();
    std::string clean;
    ASSERT_NO_THROW(clean = clean_text(text)) << escaped(text);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    slowest = std::max(slowest, ms);
    ASSERT_TRUE(valid_utf8(clean)) << escaped(text);
    ASSERT_LT(ms, 500.0) << escaped(text);
    ++runs;
  }
  std::printf("%d random texts, slowest %.3f ms\n", runs, slowest);
  EXPECT_GT(runs, 100);
}

}  // namespace
}  // namespace clipkit::text
