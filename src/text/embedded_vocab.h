// OpenAI's bpe_simple_vocab_16e6.txt.gz, compiled into the library so the default tokenizer needs
// no files at run time.
#pragma once

#include <string_view>

namespace clipkit::text {

// The gzip-compressed bytes of the embedded vocabulary file.
std::string_view embedded_vocab_gz();

}  // namespace clipkit::text
