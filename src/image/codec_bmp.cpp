// BMP decoding (not yet implemented).
#include "image/codec_common.h"

namespace clipkit::image::detail {

Image decode_bmp(const Source& s) { fail_at(s, "BMP", "decoding this format is not implemented yet"); }

}  // namespace clipkit::image::detail
