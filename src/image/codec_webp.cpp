// WebP through libwebp's animation decoder, exactly as Pillow 9.4's _webp module uses it: the
// first frame composed on the canvas by WebPAnimDecoder (default options: RGBA, no threads), mode
// RGB when WebPGetFeatures reports no alpha (the fourth byte is then dropped), else RGBA. The EXIF
// chunk supplies the orientation.
#include <webp/decode.h>
#include <webp/demux.h>

#include <cstring>
#include <memory>

#include "image/codec_common.h"
#include "image/exif.h"

namespace clipkit::image::detail {
namespace {

struct AnimDecoderDeleter {
  void operator()(WebPAnimDecoder* d) const { WebPAnimDecoderDelete(d); }
};

const char* status_text(VP8StatusCode st) {
  switch (st) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "file truncated (not enough data)";
    default: return "error";
  }
}

}  // namespace

Image decode_webp(const Source& s) {
  WebPBitstreamFeatures features;
  const VP8StatusCode st = WebPGetFeatures(s.data, s.size, &features);
  if (st != VP8_STATUS_OK) fail_at(s, "WEBP", "cannot read the header: ", status_text(st));
  // The canvas is allocated when the decoder is created: check its size first.
  check_dimensions(s, "WEBP", uint64_t(features.width), uint64_t(features.height));

  const WebPData data{s.data, s.size};
  std::unique_ptr<WebPAnimDecoder, AnimDecoderDeleter> dec(WebPAnimDecoderNew(&data, nullptr));
  if (!dec) fail_at(s, "WEBP", "could not create decoder (corrupt or truncated file)");
  WebPAnimInfo info;
  if (!WebPAnimDecoderGetInfo(dec.get(), &info)) fail_at(s, "WEBP", "could not read the image info");
  check_dimensions(s, "WEBP", info.canvas_width, info.canvas_height);

  Image img;
  img.format = "WEBP";
  img.mode = features.has_alpha ? Mode::kRGBA : Mode::kRGB;
  img.width = int(info.canvas_width);
  img.height = int(info.canvas_height);

  const WebPDemuxer* demux = WebPAnimDecoderGetDemuxer(dec.get());
  WebPChunkIterator chunk;
  if (WebPDemuxGetChunk(demux, "EXIF", 1, &chunk)) {
    if (chunk.chunk.size > 0)
      img.exif_orientation =
          normalize_orientation(exif_orientation_from_block(chunk.chunk.bytes, chunk.chunk.size).value_or(1));
    WebPDemuxReleaseChunkIterator(&chunk);
  }

  uint8_t* rgba = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(dec.get(), &rgba, &timestamp) || !rgba)
    fail_at(s, "WEBP", "failed to decode the first frame (corrupt or truncated data)");

  allocate_pixels(img);
  const size_t n = size_t(img.width) * img.height;
  if (img.mode == Mode::kRGBA) {
    std::memcpy(img.pixels.data(), rgba, n * 4);
  } else {
    uint8_t* d = img.pixels.data();
    for (size_t i = 0; i < n; ++i) {
      d[3 * i] = rgba[4 * i];
      d[3 * i + 1] = rgba[4 * i + 1];
      d[3 * i + 2] = rgba[4 * i + 2];
    }
  }
  return img;
}

}  // namespace clipkit::image::detail
