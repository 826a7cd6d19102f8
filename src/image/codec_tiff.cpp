// TIFF decoding (not yet implemented).
#include "image/codec_common.h"

namespace clipkit::image::detail {

Image decode_tiff(const Source& s) { fail_at(s, "TIFF", "decoding this format is not implemented yet"); }

}  // namespace clipkit::image::detail
