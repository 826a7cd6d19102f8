// Unicode NFC normalisation with Python 3.11's results (unicodedata 14.0.0), done with utf8proc.
#pragma once

#include <string>

namespace clipkit::text::unicode {

// Replaces s by unicodedata.normalize("NFC", s).
void nfc_inplace(std::u32string& s);

}  // namespace clipkit::text::unicode
