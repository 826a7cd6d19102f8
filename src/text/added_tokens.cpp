#include "text/added_tokens.h"

#include "text/unicode_props.h"
#include "text/utf8.h"

namespace clipkit::text {
namespace {

using unicode::is_white_space;  // Unicode White_Space, as `\s` in the regex module

// Start of the run of white space that ends at `end` (not before `floor`).
std::size_t strip_left(std::string_view s, std::size_t floor, std::size_t end) {
  while (end > floor) {
    std::size_t b = end - 1;
    while (b > floor && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    std::size_t i = b;
    if (!is_white_space(next_code_point(s, i))) break;
    end = b;
  }
  return end;
}

std::size_t strip_right(std::string_view s, std::size_t begin) {
  while (begin < s.size()) {
    std::size_t i = begin;
    if (!is_white_space(next_code_point(s, i))) break;
    begin = i;
  }
  return begin;
}

}  // namespace

void split_on_added_tokens(std::string_view text, const std::vector<const AddedToken*>& tokens,
                           const std::function<void(std::string_view)>& on_text,
                           const std::function<void(int32_t)>& on_token) {
  // Next occurrence of each token at or after `pos`; refreshed only when it falls behind, so the
  // scan stays linear in the text for each token.
  std::vector<std::size_t> next(tokens.size(), 0);
  std::vector<bool> stale(tokens.size(), true);
  std::size_t pos = 0;   // where the current text segment starts
  std::size_t from = 0;  // where to look for the next match
  for (;;) {
    std::size_t best = std::string_view::npos, best_len = 0;
    const AddedToken* tok = nullptr;
    for (std::size_t k = 0; k < tokens.size(); ++k) {
      if (stale[k] || (next[k] != std::string_view::npos && next[k] < from)) {
        next[k] = text.find(tokens[k]->content, from);
        stale[k] = false;
      }
      const std::size_t at = next[k];
      const std::size_t len = tokens[k]->content.size();
      if (at == std::string_view::npos) continue;
      if (at < best || (at == best && len > best_len)) best = at, best_len = len, tok = tokens[k];
    }
    if (!tok) break;
    std::size_t seg_end = best, after = best + best_len;
    if (tok->lstrip) seg_end = strip_left(text, pos, seg_end);
    if (tok->rstrip) after = strip_right(text, after);
    if (seg_end > pos) on_text(text.substr(pos, seg_end - pos));
    on_token(tok->id);
    pos = from = after;
  }
  if (pos < text.size()) on_text(text.substr(pos));
}

}  // namespace clipkit::text
