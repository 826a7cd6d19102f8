// The byte-level machinery of ftfy's fix_encoding: its single-byte codecs (with the 'sloppy'
// variants), Python's strict UTF-8 decoder, ftfy's 'utf-8-variants' decoder (CESU-8 and Java's
// 0xC0 0x80 null), and the two byte transcoders restore_byte_a0 and replace_lossy_sequences.
#pragma once

#include <string>
#include <string_view>

#include "text/ftfy_data.h"

namespace clipkit::text::ftfy {

inline bool is_sloppy(int charmap) { return charmap >= kSloppy1252 && charmap <= kSloppy1257; }

// chardata.possible_encoding: every character of text is one the charmap can encode.
bool possible_encoding(std::u32string_view text, int charmap);

// text.encode(charmap); requires possible_encoding(text, charmap).
void encode_charmap(std::u32string_view text, int charmap, std::string& out);

// bytes.decode('utf-8') (strict). Returns false, leaving out unspecified, on a decode error.
bool decode_utf8_strict(std::string_view bytes, std::u32string& out);

// bytes.decode('utf-8-variants'), ftfy's codec: UTF-8 that also accepts CESU-8 surrogate pairs
// and the two-byte null 0xC0 0x80. Returns false on a decode error.
bool decode_utf8_variants(std::string_view bytes, std::u32string& out);

// chardata.ALTERED_UTF8_RE.search(bytes): a UTF-8 sequence whose byte 0xA0 became a space.
bool has_altered_utf8(std::string_view bytes);

// fixes.restore_byte_a0: puts back the 0xA0 bytes (see has_altered_utf8).
void restore_byte_a0(std::string& bytes);

// fixes.replace_lossy_sequences: UTF-8 sequences damaged by the sloppy codecs' 0x1A (or '?')
// become the UTF-8 of U+FFFD.
void replace_lossy_sequences(std::string& bytes);

}  // namespace clipkit::text::ftfy
