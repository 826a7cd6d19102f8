// CLIP's image preprocessing: an Image becomes the float32 [3, S, S] tensor a vision tower takes,
// exactly as the reference pipelines compute it.
//
// Profiles (PreprocessOptions::profile):
//  * kOpenAI — OpenAI's clip._transform / torchvision (and OpenCLIP's image_transform):
//      Resize(size) in the image's own mode (shorter side -> size, longer side -> int(size * long
//      / short); nothing is resampled when that is the current size) -> CenterCrop(crop_size)
//      (offsets int(round((h - S) / 2.0)), half to even; zero padding in the image's own mode when
//      the image is smaller) -> convert("RGB") -> ToTensor (u / 255 in float32) -> Normalize
//      ((x - mean) / std in float32, true division).
//    OpenCLIP's other resize modes: kLongest (ResizeKeepRatio: longer side -> size, both sides
//    round(side / ratio), then CenterCropOrPad with fill_color) and kSquash (Resize((size, size))).
//  * kHF — transformers' CLIPImageProcessor: convert_to_rgb FIRST (so RGBA is not premultiplied
//      and P is resampled with the filter, not NEAREST), resize to get_resize_output_image_size
//      (same int() truncation), center crop with truncated offsets, then rescale and normalise.
//      Two backends (PreprocessOptions::hf_backend):
//      - kTorchvision (transformers 5's CLIPImageProcessor, the default there and here): the image
//        becomes a uint8 tensor resized by torch's antialiased interpolation
//        (resize_torch_antialias; lanczos falls back to bicubic as transformers does), center crop
//        at int((h - S) / 2.0) after torchvision-style zero padding, and the fused
//        (u - 255 mean) / (255 std) in float32.
//      - kPil (transformers 4's CLIPImageProcessor, CLIPImageProcessorPil in 5): Pillow's resize,
//        center_crop at (h - S) // 2 with zero padding at ceil offsets, rescale (float32 of
//        double(u) * (1/255)), then (x - mean) / std in float32.
//
// Only the crop window of the resized image is resampled (resize_window), which is bit-identical
// to resizing everything and cropping.
#pragma once

#include <array>
#include <string>

#include "core/tensor.h"
#include "image/decode.h"
#include "image/image.h"
#include "image/resample.h"
#include "io/config.h"

namespace clipkit::image {

enum class HFBackend : uint8_t { kTorchvision, kPil };

struct PreprocessOptions {
  io::PreprocessProfile profile = io::PreprocessProfile::kOpenAI;
  io::ResizeMode resize_mode = io::ResizeMode::kShortest;
  int size = 224;       // resize target (shorter side for kShortest, longer for kLongest)
  int crop_size = 224;  // S: the output is S x S
  Filter filter = Filter::kBicubic;
  std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std = {0.26862954f, 0.26130258f, 0.27577711f};
  int fill_color = 0;           // padding value of kLongest (every band, in the image's mode)
  bool exif_transpose = false;  // apply EXIF orientation first (the references do not)
  HFBackend hf_backend = HFBackend::kTorchvision;  // for profile kHF

  // From a model's preprocessing config; throws on an unknown resample name.
  static PreprocessOptions from_config(const io::PreprocessConfig& cfg);
};

// Where the output square comes from, for tests and debugging.
struct PreprocessPlan {
  int resized_width = 0, resized_height = 0;
  bool resize_skipped = false;  // the resize target equals the current size
  // Top-left of the S x S output in resized-image coordinates; negative (or a square reaching
  // past the resized image) where the reference pads.
  int crop_left = 0, crop_top = 0;
  int fill = 0;  // padding value, in the mode the padding happens in
};

// The geometry for an image of width x height (after EXIF transposition, when enabled).
// Throws when a size is not positive or the resize target would be empty or huge.
PreprocessPlan plan_preprocess(int width, int height, const PreprocessOptions& opts);

// The 8-bit RGB crop (S x S, mode RGB) the reference normalises: resized, cropped/padded and
// converted exactly as the profile does.
Image preprocess_uint8(const Image& img, const PreprocessOptions& opts,
                       PreprocessPlan* plan = nullptr);

// ToTensor + Normalize of an S x S RGB crop into out[3 * S * S] (CHW), bit-exact to the profile's
// float32 arithmetic.
void normalize_into(const Image& rgb, const PreprocessOptions& opts, float* out);

struct Preprocessed {
  Tensor pixels;  // F32 [3, S, S]
  Image crop;     // the uint8 RGB S x S intermediate
  PreprocessPlan plan;
};

Preprocessed preprocess(const Image& img, const PreprocessOptions& opts);
// decode_file + preprocess; errors name the file.
Preprocessed preprocess_file(const std::string& path, const PreprocessOptions& opts,
                             const DecodeOptions& decode = {});

}  // namespace clipkit::image
