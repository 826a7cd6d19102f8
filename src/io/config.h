// The architecture of a CLIP model, read from a config file (open_clip_config.json, a transformers
// config.json), a named preset, or derived from an OpenAI state dict as OpenAI's build_model does.
// It is the single source of truth for tensor shapes: the loader checks every tensor against it.
#pragma once

#include <array>
#include <optional>
#include <string>

namespace clipkit::io {

enum class Activation { kQuickGelu, kGelu };  // QuickGELU x*sigmoid(1.702x); GELU with erf
// Where the text tower pools: the first <|endoftext|> (OpenCLIP, transformers with eos_token_id
// set to the real EOT id) or the argmax of the ids (OpenAI's rule; transformers with
// eos_token_id == 2). They agree unless ids above 49407 (added tokens) appear.
enum class TextPooling { kFirstEot, kArgmax };

struct TextConfig {
  int vocab_size = 49408;
  int context_length = 77;
  int width = 512;
  int heads = 8;
  int layers = 12;
  int mlp_width = 2048;
  Activation activation = Activation::kQuickGelu;
  TextPooling pooling = TextPooling::kArgmax;
  int eot_token_id = 49407;
  double ln_eps = 1e-5;
  bool has_projection = true;  // CLIPTextModel (no projection) vs WithProjection / CLIPModel
};

enum class VisionKind { kViT, kModifiedResNet };

struct VisionConfig {
  VisionKind kind = VisionKind::kViT;
  int image_size = 224;
  // ViT
  int patch_size = 32;
  int width = 768;  // ViT: model width; ResNet: stem width (64 for RN50)
  int layers = 12;  // ViT: blocks
  int heads = 12;   // ViT: attention heads; ResNet: attention-pool heads
  int mlp_width = 3072;
  // ModifiedResNet: bottleneck blocks per stage
  std::array<int, 4> resnet_layers = {3, 4, 6, 3};
  Activation activation = Activation::kQuickGelu;
  double ln_eps = 1e-5;
  bool has_projection = true;
};

// How images are brought to the model's input (see src/image).
enum class PreprocessProfile { kOpenAI, kHF };
enum class ResizeMode { kShortest, kLongest, kSquash };

struct PreprocessConfig {
  PreprocessProfile profile = PreprocessProfile::kOpenAI;
  ResizeMode resize_mode = ResizeMode::kShortest;
  int size = 224;       // resize target (shortest side for kShortest)
  int crop_size = 224;  // centre crop
  std::string resample = "bicubic";
  std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std = {0.26862954f, 0.26130258f, 0.27577711f};
  int fill_color = 0;  // padding value for kLongest
};

struct ModelConfig {
  std::string name;  // preset or file it came from, for messages
  int embed_dim = 512;
  std::optional<TextConfig> text;      // absent for vision-only checkpoints
  std::optional<VisionConfig> vision;  // absent for text-only checkpoints
  PreprocessConfig preprocess;
  double logit_scale_init = 2.6592;  // log(1/0.07), when the checkpoint has no logit_scale
};

}  // namespace clipkit::io
