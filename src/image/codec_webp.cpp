// WEBP decoding (not yet implemented).
#include "image/codec_common.h"

namespace clipkit::image::detail {

Image decode_webp(const Source& s) { fail_at(s, "WEBP", "decoding this format is not implemented yet"); }

}  // namespace clipkit::image::detail
