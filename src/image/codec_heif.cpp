// HEIC / AVIF through libheif when the build has it (CLIPKIT_HAVE_HEIF). Pillow 9.4 cannot open
// these files; the reference users rely on is the pillow-heif plugin, which decodes the primary
// image with libheif, applies the container's rotation/mirroring (irot/imir) and reports RGB, or
// RGBA when the image has an alpha plane. That is what this does. Since the transformations are
// already applied, exif_orientation stays 1 (pillow-heif likewise clears the EXIF orientation).
#include "image/codec_common.h"

#ifdef CLIPKIT_HAVE_HEIF
#include <libheif/heif.h>

#include <cstring>
#include <memory>
#endif

namespace clipkit::image::detail {

#ifdef CLIPKIT_HAVE_HEIF
namespace {

constexpr const char* kFmt = "HEIF";

struct CtxDeleter {
  void operator()(heif_context* c) const { heif_context_free(c); }
};
struct HandleDeleter {
  void operator()(heif_image_handle* h) const { heif_image_handle_release(h); }
};
struct ImageDeleter {
  void operator()(heif_image* i) const { heif_image_release(i); }
};
struct OptionsDeleter {
  void operator()(heif_decoding_options* o) const { heif_decoding_options_free(o); }
};

void init_once() {
  // Reference-counted in libheif; done once per process and never undone, so concurrent
  // decoders never race on plugin registration.
  static const bool done = [] {
    heif_init(nullptr);
    return true;
  }();
  (void)done;
}

void check(const Source& s, const heif_error& err, const char* what) {
  if (err.code != heif_error_Ok) fail_at(s, kFmt, what, ": ", err.message ? err.message : "error");
}

}  // namespace

Image decode_heif(const Source& s) {
  init_once();
  std::unique_ptr<heif_context, CtxDeleter> ctx(heif_context_alloc());
  if (!ctx) fail_at(s, kFmt, "out of memory");
  check(s, heif_context_read_from_memory_without_copy(ctx.get(), s.data, s.size, nullptr),
        "cannot read the container");
  heif_image_handle* raw_handle = nullptr;
  check(s, heif_context_get_primary_image_handle(ctx.get(), &raw_handle), "no primary image");
  std::unique_ptr<heif_image_handle, HandleDeleter> handle(raw_handle);

  const int w = heif_image_handle_get_width(handle.get());
  const int h = heif_image_handle_get_height(handle.get());
  check_dimensions(s, kFmt, uint64_t(w < 0 ? 0 : w), uint64_t(h < 0 ? 0 : h));
  const bool alpha = heif_image_handle_has_alpha_channel(handle.get()) != 0;

  std::unique_ptr<heif_decoding_options, OptionsDeleter> options(heif_decoding_options_alloc());
  heif_image* raw_img = nullptr;
  check(s,
        heif_decode_image(handle.get(), &raw_img, heif_colorspace_RGB,
                          alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, options.get()),
        "cannot decode the image");
  std::unique_ptr<heif_image, ImageDeleter> decoded(raw_img);

  Image img;
  // pillow-heif names AVIF files "AVIF" and the other ISO-BMFF brands "HEIF".
  const bool avif = s.size >= 12 && (std::memcmp(s.data + 8, "avif", 4) == 0 || std::memcmp(s.data + 8, "avis", 4) == 0);
  img.format = avif ? "AVIF" : "HEIF";
  img.mode = alpha ? Mode::kRGBA : Mode::kRGB;
  // The decoded size includes the transformations (a 90-degree rotation swaps the sides).
  img.width = heif_image_get_width(decoded.get(), heif_channel_interleaved);
  img.height = heif_image_get_height(decoded.get(), heif_channel_interleaved);
  check_dimensions(s, kFmt, uint64_t(img.width < 0 ? 0 : img.width), uint64_t(img.height < 0 ? 0 : img.height));
  int stride = 0;
  const uint8_t* plane = heif_image_get_plane_readonly(decoded.get(), heif_channel_interleaved, &stride);
  if (!plane || stride < 0 || size_t(stride) < img.row_bytes())
    fail_at(s, kFmt, "decoder returned no 8-bit interleaved plane");
  allocate_pixels(img);
  for (int y = 0; y < img.height; ++y)
    std::memcpy(img.row(y), plane + size_t(y) * size_t(stride), img.row_bytes());
  return img;
}
#else
Image decode_heif(const Source& s) {
  fail_at(s, "HEIF", "HEIC/AVIF decoding is not supported in this build (libheif was not found at configure time)");
}
#endif

}  // namespace clipkit::image::detail
