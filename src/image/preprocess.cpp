// The preprocessing profiles of preprocess.h: geometry (resize size, crop or pad offsets) exactly
// as torchvision / OpenCLIP / transformers compute it, resampling of the crop window only, padding
// in the mode the reference pads in, conversion to RGB where the reference converts, and the
// float32 normalisation as a per-channel table of the 256 possible results.
#include "image/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace clipkit::image {
namespace {

// Python's round() of d / 2.0 for an integer d >= 0: halves go to the even neighbour.
int round_half_even_half(int d) {
  const int k = d / 2;
  if (d % 2 == 0) return k;
  return (k % 2 == 0) ? k : k + 1;
}

// torchvision's / transformers' shorter-side rule: shorter side -> size, longer side ->
// int(size * long / short) (a float division, then truncation).
void shortest_side_size(int w, int h, int size, int* out_w, int* out_h) {
  const int s = std::min(w, h), l = std::max(w, h);
  const double lon = double(int64_t(size) * l) / double(s);
  CLIPKIT_CHECK(lon < double(kMaxResizeSide) + 1.0, "preprocess: resizing a ", w, "x", h,
                " image to shorter side ", size, " makes its longer side ", lon,
                " pixels, more than ", kMaxResizeSide);
  const int new_long = int(lon);
  if (w <= h) {
    *out_w = size;
    *out_h = new_long;
  } else {
    *out_w = new_long;
    *out_h = size;
  }
}

// OpenCLIP's ResizeKeepRatio with longest=1: ratio = max(h / S, w / S) (+ min * 0.0), each side
// round(side / ratio) with Python's round (half to even).
void longest_side_size(int w, int h, int size, int* out_w, int* out_h) {
  const double rh = double(h) / size, rw = double(w) / size;
  const double ratio = std::max(rh, rw) * 1.0 + std::min(rh, rw) * (1.0 - 1.0);
  *out_h = int(std::nearbyint(double(h) * 1.0 / ratio));
  *out_w = int(std::nearbyint(double(w) * 1.0 / ratio));
}

// Fills every pixel of `img` with `fill` in its own mode, as Image.new(mode, size, fill-per-band)
// does (torchvision pads with a tuple of `fill` for every band).
void fill_image(Image& img, int fill) {
  switch (img.mode) {
    case Mode::kI: {
      const int32_t v = fill;
      for (size_t i = 0; i + 4 <= img.pixels.size(); i += 4) std::memcpy(&img.pixels[i], &v, 4);
      return;
    }
    case Mode::kF: {
      const float v = float(fill);
      for (size_t i = 0; i + 4 <= img.pixels.size(); i += 4) std::memcpy(&img.pixels[i], &v, 4);
      return;
    }
    case Mode::kI16: {
      const uint16_t v = uint16_t(std::clamp(fill, 0, 65535));
      for (size_t i = 0; i + 2 <= img.pixels.size(); i += 2) std::memcpy(&img.pixels[i], &v, 2);
      return;
    }
    case Mode::kOne:
      std::fill(img.pixels.begin(), img.pixels.end(), uint8_t(fill != 0 ? 255 : 0));
      return;
    default:
      std::fill(img.pixels.begin(), img.pixels.end(), uint8_t(std::clamp(fill, 0, 255)));
  }
}

Image with_mode_rgb(Image img) {
  if (img.mode == Mode::kRGB) return img;
  return convert_to_rgb(img);
}

}  // namespace

PreprocessOptions PreprocessOptions::from_config(const io::PreprocessConfig& cfg) {
  PreprocessOptions o;
  o.profile = cfg.profile;
  o.resize_mode = cfg.resize_mode;
  o.size = cfg.size;
  o.crop_size = cfg.crop_size;
  o.filter = parse_filter(cfg.resample);
  o.mean = cfg.mean;
  o.std = cfg.std;
  o.fill_color = cfg.fill_color;
  return o;
}

PreprocessPlan plan_preprocess(int width, int height, const PreprocessOptions& opts) {
  CLIPKIT_CHECK(width > 0 && height > 0, "preprocess: the image is empty (", width, "x", height,
                ")");
  CLIPKIT_CHECK(opts.size > 0 && opts.size <= kMaxResizeSide, "preprocess: resize size ",
                opts.size, " must be between 1 and ", kMaxResizeSide);
  CLIPKIT_CHECK(opts.crop_size > 0 && opts.crop_size <= 16384, "preprocess: crop size ",
                opts.crop_size, " must be between 1 and 16384");
  PreprocessPlan p;
  const int S = opts.crop_size;
  switch (opts.resize_mode) {
    case io::ResizeMode::kShortest:
      shortest_side_size(width, height, opts.size, &p.resized_width, &p.resized_height);
      break;
    case io::ResizeMode::kSquash:
      p.resized_width = p.resized_height = opts.size;
      break;
    case io::ResizeMode::kLongest:
      CLIPKIT_CHECK(opts.profile == io::PreprocessProfile::kOpenAI,
                    "preprocess: the 'longest' resize mode is OpenCLIP's; transformers' "
                    "CLIPImageProcessor has no such mode");
      longest_side_size(width, height, opts.size, &p.resized_width, &p.resized_height);
      break;
  }
  CLIPKIT_CHECK(p.resized_width > 0 && p.resized_height > 0, "preprocess: a ", width, "x", height,
                " image resized to ", opts.size, " becomes ", p.resized_width, "x",
                p.resized_height, " (Pillow: \"height and width must be > 0\")");
  p.resize_skipped = p.resized_width == width && p.resized_height == height;
  const int rw = p.resized_width, rh = p.resized_height;
  if (opts.profile == io::PreprocessProfile::kHF && opts.hf_backend == HFBackend::kPil) {
    // transformers' numpy center_crop: floor offsets; a too-small side is zero-padded at ceil
    // offsets, which puts the crop at -ceil((S - side) / 2).
    p.crop_left = rw >= S ? (rw - S) / 2 : -((S - rw + 1) / 2);
    p.crop_top = rh >= S ? (rh - S) / 2 : -((S - rh + 1) / 2);
    p.fill = 0;
  } else if (opts.profile == io::PreprocessProfile::kHF) {
    // TorchvisionBackend.center_crop: torchvision's padding, then int((padded - S) / 2.0), a
    // truncation where torchvision itself rounds.
    const int pad_l = S > rw ? (S - rw) / 2 : 0, pad_t = S > rh ? (S - rh) / 2 : 0;
    p.crop_left = (std::max(rw, S) - S) / 2 - pad_l;
    p.crop_top = (std::max(rh, S) - S) / 2 - pad_t;
    p.fill = 0;
  } else {
    // torchvision's center_crop / OpenCLIP's center_crop_or_pad: pad left/top by (S - side) // 2
    // (right/bottom get the extra pixel), then crop at int(round((padded - S) / 2.0)).
    const int pad_l = S > rw ? (S - rw) / 2 : 0, pad_t = S > rh ? (S - rh) / 2 : 0;
    const int pw = std::max(rw, S), ph = std::max(rh, S);
    p.crop_left = round_half_even_half(pw - S) - pad_l;
    p.crop_top = round_half_even_half(ph - S) - pad_t;
    p.fill = opts.resize_mode == io::ResizeMode::kLongest ? opts.fill_color : 0;
  }
  return p;
}

Image preprocess_uint8(const Image& img, const PreprocessOptions& opts, PreprocessPlan* plan_out) {
  CLIPKIT_CHECK(img.width > 0 && img.height > 0, "preprocess: the ", mode_name(img.mode),
                " image is empty (", img.width, "x", img.height, ")");
  Image transposed, rgb_first;
  const Image* src = &img;
  if (opts.exif_transpose && src->exif_orientation != 1) {
    transposed = exif_transpose(*src);
    src = &transposed;
  }
  const bool hf = opts.profile == io::PreprocessProfile::kHF;
  if (hf && src->mode != Mode::kRGB) {  // transformers converts before anything else
    rgb_first = convert_to_rgb(*src);
    src = &rgb_first;
  }
  const PreprocessPlan plan = plan_preprocess(src->width, src->height, opts);
  if (plan_out) *plan_out = plan;
  const int S = opts.crop_size;
  // The part of the S x S square that lies inside the resized image.
  const int x0 = std::max(0, plan.crop_left), x1 = std::min(plan.resized_width, plan.crop_left + S);
  const int y0 = std::max(0, plan.crop_top), y1 = std::min(plan.resized_height, plan.crop_top + S);
  Image part;
  if (x1 > x0 && y1 > y0) {
    const Window win{x0, y0, x1 - x0, y1 - y0};
    if (hf && opts.hf_backend == HFBackend::kTorchvision) {
      // transformers swaps LANCZOS for BICUBIC on tensors; NEAREST, BOX and HAMMING have no
      // antialiased tensor kernel.
      Filter f = opts.filter == Filter::kLanczos ? Filter::kBicubic : opts.filter;
      CLIPKIT_CHECK(f == Filter::kBilinear || f == Filter::kBicubic,
                    "preprocess: transformers' torchvision backend resizes with bilinear or bicubic, "
                    "not ", filter_name(f), " (use the PIL backend)");
      part = resize_torch_antialias(*src, plan.resized_width, plan.resized_height, f, &win);
    } else {
      part = resize_window(*src, plan.resized_width, plan.resized_height, opts.filter, nullptr, win);
    }
  }
  if (x0 == plan.crop_left && y0 == plan.crop_top && x1 - x0 == S && y1 - y0 == S)
    return hf ? part : with_mode_rgb(std::move(part));

  // Padding: the square in the mode the reference pads in, then the resampled part pasted in.
  Image square;
  square.width = square.height = S;
  square.mode = src->mode;
  square.palette = src->palette;
  square.palette_has_alpha = src->palette_has_alpha;
  square.format = src->format;
  const size_t bpp = size_t(src->channels()) * mode_sample_bytes(src->mode);
  square.pixels.resize(size_t(S) * S * bpp);
  fill_image(square, plan.fill);
  for (int y = y0; y < y1; ++y)
    std::memcpy(square.row(y - plan.crop_top) + size_t(x0 - plan.crop_left) * bpp, part.row(y - y0),
                size_t(x1 - x0) * bpp);
  return hf ? square : with_mode_rgb(std::move(square));
}

void normalize_into(const Image& rgb, const PreprocessOptions& opts, float* out) {
  CLIPKIT_CHECK(rgb.mode == Mode::kRGB, "normalize: expected an RGB image, got ",
                mode_name(rgb.mode));
  CLIPKIT_CHECK(rgb.pixels.size() == size_t(rgb.width) * rgb.height * 3,
                "normalize: RGB image buffer has the wrong size");
  for (int c = 0; c < 3; ++c)
    CLIPKIT_CHECK(opts.std[c] != 0.0f && std::isfinite(opts.std[c]) && std::isfinite(opts.mean[c]),
                  "normalize: std[", c, "] = ", opts.std[c], ", mean[", c, "] = ", opts.mean[c],
                  " cannot normalise");
  // Every output is a function of (channel, byte): tabulate the reference's float32 arithmetic.
  float lut[3][256];
  const bool hf = opts.profile == io::PreprocessProfile::kHF;
  for (int c = 0; c < 3; ++c)
    for (int u = 0; u < 256; ++u) {
      if (hf && opts.hf_backend == HFBackend::kTorchvision) {
        // Fused rescale + normalise: mean and std (float32 tensors) times 1 / (1/255), which is
        // 255 in float32, then (u - mean') / std' in float32.
        const float m = opts.mean[c] * 255.0f, s = opts.std[c] * 255.0f;
        lut[c][u] = (float(u) - m) / s;
        continue;
      }
      float x;
      if (hf)
        x = float(double(u) * (1.0 / 255.0));  // rescale: float64 product, then float32
      else
        x = float(u) / 255.0f;  // ToTensor: float32 true division
      lut[c][u] = (x - opts.mean[c]) / opts.std[c];
    }
  const size_t plane = size_t(rgb.width) * rgb.height;
  const uint8_t* p = rgb.pixels.data();
  float* r = out;
  float* g = out + plane;
  float* b = out + 2 * plane;
  for (size_t i = 0; i < plane; ++i, p += 3) {
    r[i] = lut[0][p[0]];
    g[i] = lut[1][p[1]];
    b[i] = lut[2][p[2]];
  }
}

Preprocessed preprocess(const Image& img, const PreprocessOptions& opts) {
  Preprocessed r;
  r.crop = preprocess_uint8(img, opts, &r.plan);
  const int S = opts.crop_size;
  r.pixels = Tensor::empty(DType::F32, {3, S, S});
  normalize_into(r.crop, opts, r.pixels.data<float>());
  return r;
}

Preprocessed preprocess_file(const std::string& path, const PreprocessOptions& opts,
                             const DecodeOptions& decode) {
  const Image img = decode_file(path, decode);
  try {
    return preprocess(img, opts);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

}  // namespace clipkit::image
