// JPEG through libjpeg-turbo with Pillow 9.4's decoder settings: the number of components in the
// frame header picks the mode (1 -> L, 3 -> RGB, 4 -> CMYK); libjpeg's own colour-space guess
// (JFIF, Adobe transform, component ids) decides what the file holds; output is JCS_GRAYSCALE,
// JCS_RGB or JCS_CMYK with the default islow IDCT and fancy upsampling. Pillow always assumes
// Adobe's inverted CMYK polarity ("CMYK;I"), so CMYK samples are inverted after decoding whether
// or not an Adobe marker is present.
//
// libjpeg reports errors through error_exit, which by default calls exit(). Here it longjmps back
// into the small functions below that hold the setjmp; they contain only trivially destructible
// locals, and the C++ caller turns the saved message into clipkit::Error. The source manager
// refuses to invent data: running out of input before every scanline is read is an error, as it is
// for Pillow with LOAD_TRUNCATED_IMAGES off; after the last scanline a missing EOI is tolerated.
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>

#include "image/codec_common.h"
#include "image/exif.h"

namespace clipkit::image::detail {
namespace {

struct JpegErrorMgr {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64];
};

struct JpegSourceMgr {
  jpeg_source_mgr pub;
  const uint8_t* data;
  size_t size;
  bool scanlines_done;  // after the last scanline, a missing EOI is not an error (as in Pillow)
};

constexpr JOCTET kFakeEoi[2] = {0xFF, JPEG_EOI};

[[noreturn]] void on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorMgr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings (corrupt data libjpeg can recover from) are ignored, as Pillow ignores them.
void on_output_message(j_common_ptr) {}

void src_init(j_decompress_ptr) {}
void src_term(j_decompress_ptr) {}

boolean src_fill(j_decompress_ptr cinfo) {
  auto* src = reinterpret_cast<JpegSourceMgr*>(cinfo->src);
  if (src->scanlines_done) {
    src->pub.next_input_byte = kFakeEoi;
    src->pub.bytes_in_buffer = 2;
    return TRUE;
  }
  auto* err = reinterpret_cast<JpegErrorMgr*>(cinfo->err);
  std::snprintf(err->message, sizeof err->message,
                "file truncated: JPEG data ends after %zu bytes, before the image is complete",
                src->size);
  std::longjmp(err->jump, 1);
}

void src_skip(j_decompress_ptr cinfo, long num_bytes) {
  if (num_bytes <= 0) return;
  auto* src = reinterpret_cast<JpegSourceMgr*>(cinfo->src);
  if (size_t(num_bytes) > src->pub.bytes_in_buffer) {
    src->pub.next_input_byte += src->pub.bytes_in_buffer;
    src->pub.bytes_in_buffer = 0;
    src_fill(cinfo);
    return;
  }
  src->pub.next_input_byte += num_bytes;
  src->pub.bytes_in_buffer -= size_t(num_bytes);
}

// Owns the libjpeg state; the destructor releases it on every path, including errors.
struct JpegDecoder {
  jpeg_decompress_struct cinfo;
  JpegErrorMgr err;
  JpegSourceMgr src;
  bool created = false;

  JpegDecoder(const uint8_t* data, size_t size) {
    std::memset(&cinfo, 0, sizeof cinfo);
    std::memset(&err, 0, sizeof err);
    std::memset(&src, 0, sizeof src);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error_exit;
    err.pub.output_message = on_output_message;
    src.pub.init_source = src_init;
    src.pub.fill_input_buffer = src_fill;
    src.pub.skip_input_data = src_skip;
    src.pub.resync_to_restart = jpeg_resync_to_restart;
    src.pub.term_source = src_term;
    src.pub.next_input_byte = data;
    src.pub.bytes_in_buffer = size;
    src.data = data;
    src.size = size;
  }
  ~JpegDecoder() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  size_t offset() const { return src.size - src.pub.bytes_in_buffer; }
};

// setjmp frames: only trivially destructible locals below this line, nothing read after longjmp.
bool read_header(JpegDecoder* d) {
  if (setjmp(d->err.jump)) return false;
  d->created = true;
  jpeg_create_decompress(&d->cinfo);
  d->cinfo.src = &d->src.pub;
  jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&d->cinfo, TRUE);
  return true;
}

bool read_pixels(JpegDecoder* d, J_COLOR_SPACE out_space, uint8_t* out, size_t row_bytes,
                 JDIMENSION width, JDIMENSION height) {
  if (setjmp(d->err.jump)) return false;
  j_decompress_ptr cinfo = &d->cinfo;
  cinfo->out_color_space = out_space;
  cinfo->dct_method = JDCT_ISLOW;
  cinfo->do_fancy_upsampling = TRUE;
  cinfo->scale_num = 1;
  cinfo->scale_denom = 1;
  jpeg_start_decompress(cinfo);
  if (cinfo->output_width != width || cinfo->output_height != height) {
    std::snprintf(d->err.message, sizeof d->err.message, "decoder output size %ux%u differs from header",
                  cinfo->output_width, cinfo->output_height);
    return false;
  }
  while (cinfo->output_scanline < height) {
    JSAMPROW row = out + size_t(cinfo->output_scanline) * row_bytes;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  d->src.scanlines_done = true;
  jpeg_finish_decompress(cinfo);
  return true;
}

int find_exif_orientation(const jpeg_decompress_struct& cinfo) {
  // Pillow keeps the first APP1 segment that starts with "Exif\0".
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 5 && std::memcmp(m->data, "Exif\0", 5) == 0)
      return normalize_orientation(exif_orientation_from_block(m->data, m->data_length).value_or(1));
  }
  return 1;
}

}  // namespace

Image decode_jpeg(const Source& s) {
  JpegDecoder d(s.data, s.size);
  if (!read_header(&d)) fail_at(s, "JPEG", d.err.message, " (at byte ", d.offset(), ")");

  Image img;
  img.format = "JPEG";
  J_COLOR_SPACE out_space;
  switch (d.cinfo.num_components) {
    case 1: img.mode = Mode::kL; out_space = JCS_GRAYSCALE; break;
    case 3: img.mode = Mode::kRGB; out_space = JCS_RGB; break;
    case 4: img.mode = Mode::kCMYK; out_space = JCS_CMYK; break;
    default:
      fail_at(s, "JPEG", "cannot handle ", d.cinfo.num_components, "-component images");
  }
  check_dimensions(s, "JPEG", d.cinfo.image_width, d.cinfo.image_height);
  img.width = int(d.cinfo.image_width);
  img.height = int(d.cinfo.image_height);
  img.exif_orientation = find_exif_orientation(d.cinfo);
  allocate_pixels(img);

  if (!read_pixels(&d, out_space, img.pixels.data(), img.row_bytes(), d.cinfo.image_width,
                   d.cinfo.image_height))
    fail_at(s, "JPEG", d.err.message, " (at byte ", d.offset(), ")");

  if (img.mode == Mode::kCMYK)
    for (uint8_t& v : img.pixels) v = uint8_t(255 - v);
  return img;
}

}  // namespace clipkit::image::detail
