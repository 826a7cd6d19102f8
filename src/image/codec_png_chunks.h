// The chunk walk Pillow's PngImagePlugin does around the pixel data, which libpng does not
// reproduce: CRC and layout checks of the chunks before the first IDAT, and the EXIF orientation
// as Pillow's getexif() finds it (eXIf, a tEXt "exif" entry or ImageMagick's "Raw profile type
// exif", then the XMP packet's tiff:Orientation), from chunks before and after the image data.
#pragma once

#include "image/codec_common.h"

namespace clipkit::image::detail {

struct PngChunkInfo {
  int orientation = 1;  // 1..8
};

// Throws Error (naming the chunk and offset) where Pillow refuses the file at this stage.
PngChunkInfo scan_png_chunks(const Source& src);

}  // namespace clipkit::image::detail
