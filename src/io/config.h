// The architecture of a CLIP model, read from a config file (open_clip_config.json, a transformers
// config.json), a named preset, or derived from an OpenAI state dict as OpenAI's build_model does.
// It is the single source of truth for tensor shapes: the loader checks every tensor against it.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

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

const char* activation_name(Activation a);  // "quick_gelu" / "gelu"
const char* pooling_name(TextPooling p);    // "argmax" / "first_eot"
const char* resize_mode_name(ResizeMode m); // "shortest" / "longest" / "squash"

// Checks that a config describes a buildable model: positive sizes, heads dividing the width,
// image size divisible by the patch (ViT) or by 32 (ResNet), 3 mean/std values, ... Throws an
// Error naming `c.name` and the offending field.
void validate_config(const ModelConfig& c);

// open_clip_config.json: {"model_cfg": {embed_dim, quick_gelu, vision_cfg, text_cfg},
// "preprocess_cfg": {mean, std, interpolation, resize_mode, size, fill_color}}; a bare model_cfg
// object (open_clip's model_configs/*.json) is accepted too. Options the engine does not implement
// (timm or HF towers, layer scale, attentional pooling, ...) are refused with an Error naming
// them. `label` names the file in messages. The result is validated.
ModelConfig parse_open_clip_config(const std::string& json_text, const std::string& label);
ModelConfig load_open_clip_config(const std::string& path);
// Serialises `c` as an open_clip_config.json (the inverse of parse_open_clip_config).
std::string open_clip_config_json(const ModelConfig& c);

// A transformers config.json of model_type clip (CLIPModel), clip_text_model (CLIPTextModel /
// CLIPTextModelWithProjection) or clip_vision_model (CLIPVision*). Tower sizes are required;
// other fields default as transformers defaults them. Pooling: eos_token_id == 2 means argmax of
// the ids (transformers' legacy rule), otherwise the first position holding eos_token_id.
// Whether a text- or vision-only model has a projection comes from "architectures"; when that is
// absent, `has_text_projection` / `has_vision_projection` (from the weights) decide. The
// preprocess profile is kHF with the tower's image size.
ModelConfig parse_hf_config(const std::string& json_text, const std::string& label,
                            std::optional<bool> has_text_projection = std::nullopt,
                            std::optional<bool> has_vision_projection = std::nullopt);
// preprocessor_config.json of a CLIPImageProcessor, applied on top of `base`.
PreprocessConfig parse_hf_preprocessor_config(const std::string& json_text,
                                              const std::string& label,
                                              const PreprocessConfig& base);
// Serialises `c` as a transformers config.json (CLIPModel, or the text/vision model classes for
// single-tower configs) and as a preprocessor_config.json.
std::string hf_config_json(const ModelConfig& c);
std::string hf_preprocessor_config_json(const ModelConfig& c);

// The architecture of an OpenAI-layout state dict derived from its tensor shapes exactly as
// OpenAI's clip/model.py build_model() does (heads = width // 64, vision heads = width * 32 // 64
// for ResNets, QuickGELU, argmax pooling). Used only when neither a config file nor a preset is
// given; throws when a needed tensor is missing or the derived head count is 0 (small models
// whose head count cannot be derived need a config).
ModelConfig derive_openai_config(const std::map<std::string, Shape>& shapes,
                                 const std::string& label);

// A text-only architecture derived from the shapes of a text tower as Stable Diffusion single
// files store it: transformers names (`text_model.*`, CLIP ViT-L/14: QuickGELU, argmax pooling,
// no projection) when `hf_names`, else OpenCLIP names (`transformer.resblocks.*`, the LAION
// ViT-H/14 and ViT-bigG/14 towers: GELU, argmax pooling, projection when text_projection is
// present). Heads are width / 64 as in every released tower; a width below 64 is an Error.
ModelConfig derive_text_config(const std::map<std::string, Shape>& shapes, bool hf_names,
                               const std::string& label);

}  // namespace clipkit::io
