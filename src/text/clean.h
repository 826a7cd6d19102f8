// Text clean-up exactly as CLIP's reference tokenizer applies it before pre-tokenization:
//   ftfy.fix_text(text)  (ftfy 6.3.1, default settings)
//   -> html.unescape twice (Python's html module: all HTML5 named and numeric references)
//   -> str.strip()
//   -> every run of Unicode White_Space replaced by one space, strip again
//   -> Python's str.lower() (full Unicode lower-casing, context-dependent final sigma)
// All functions take and return valid UTF-8; callers validate input first.
#pragma once

#include <string>
#include <string_view>

namespace clipkit::text {

// ftfy.fix_text with its default configuration.
std::string ftfy_fix_text(std::string_view text);
// Python's html.unescape.
std::string html_unescape(std::string_view text);
// OpenAI's whitespace_clean: collapse runs of White_Space to one space, then strip.
std::string whitespace_clean(std::string_view text);
// Python's str.lower().
std::string python_lower(std::string_view text);
// The whole pipeline: whitespace_clean(basic_clean(text)).lower(), where basic_clean is
// ftfy_fix_text, html_unescape twice and strip. Equals the `clean` field of the tokenizer
// fixture cases.
std::string clean_text(std::string_view text);

}  // namespace clipkit::text
