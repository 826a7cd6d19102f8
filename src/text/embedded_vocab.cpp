#include "text/embedded_vocab.h"

// The build passes the vocabulary's path in CLIPKIT_VOCAB_GZ (see CMakeLists.txt, which also makes
// this object depend on the file). The assembler copies the file's bytes into .rodata; the symbols
// are hidden so two libraries embedding it cannot clash.
#ifndef CLIPKIT_VOCAB_GZ
#error "CLIPKIT_VOCAB_GZ must name bpe_simple_vocab_16e6.txt.gz"
#endif

__asm__(
    ".pushsection .rodata\n"
    ".balign 16\n"
    ".globl clipkit_embedded_vocab_gz_begin\n"
    ".hidden clipkit_embedded_vocab_gz_begin\n"
    "clipkit_embedded_vocab_gz_begin:\n"
    ".incbin \"" CLIPKIT_VOCAB_GZ "\"\n"
    ".globl clipkit_embedded_vocab_gz_end\n"
    ".hidden clipkit_embedded_vocab_gz_end\n"
    "clipkit_embedded_vocab_gz_end:\n"
    ".popsection\n");

extern "C" {
extern const char clipkit_embedded_vocab_gz_begin[];
extern const char clipkit_embedded_vocab_gz_end[];
}

namespace clipkit::text {

std::string_view embedded_vocab_gz() {
  return {clipkit_embedded_vocab_gz_begin,
          static_cast<std::size_t>(clipkit_embedded_vocab_gz_end - clipkit_embedded_vocab_gz_begin)};
}

}  // namespace clipkit::text
