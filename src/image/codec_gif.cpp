// GIF decoding (not yet implemented).
#include "image/codec_common.h"

namespace clipkit::image::detail {

Image decode_gif(const Source& s) { fail_at(s, "GIF", "decoding this format is not implemented yet"); }

}  // namespace clipkit::image::detail
