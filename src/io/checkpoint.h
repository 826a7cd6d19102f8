// Loading a CLIP checkpoint as people have it, onto the canonical parameter names of
// src/io/CANONICAL.md, with the architecture from a config file, a named preset or the state
// dict's shapes. Every tensor is shape-checked against the config, every tensor of the file must be
// used exactly once, and fp32 tensors are views into the memory-mapped file.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"

namespace clipkit::io {

enum class Layout { kOpenAI, kHF, kDiffusers, kSDSingleFile };
const char* layout_name(Layout l);

struct LoadOptions {
  std::string arch;  // preset name (ViT-B-32, RN50, ...) overriding any config; empty = detect
  // Stable Diffusion single files hold one or two text encoders: "text_encoder" (SD 1.x's and
  // SDXL's CLIP ViT-L/14 text tower, SD 2.x's OpenCLIP ViT-H/14 one; the default) or
  // "text_encoder_2" (SDXL's OpenCLIP ViT-bigG/14 text tower).
  std::string component;
};

struct Checkpoint {
  ModelConfig config;
  Layout layout = Layout::kOpenAI;
  std::string path;
  // Canonical name -> tensor in its on-disk dtype (F32, F16 or BF16), possibly a strided view.
  // Transformer block linear weights may be I8 (`clipkit quantize`), each with its per-row scales
  // in "<weight>_scale" (F32 [out]; see io/quantize.h).
  std::map<std::string, Tensor> params;
  // The canonical tensor or an Error naming the checkpoint and the missing name.
  const Tensor& param(const std::string& name) const;
  // Total parameter count (as PyTorch counts parameters(): BatchNorm running statistics excluded).
  int64_t parameter_count() const;
  // The weights file(s) the tensors came from and how the architecture was determined
  // ("open_clip_config.json", "config.json", "preset ViT-B-32", "derived from shapes").
  std::vector<std::string> weight_files;
  std::string config_source;
  // The safetensors header metadata of a single weights file (empty for other files), without the
  // embedded config entries; save_checkpoint writes it back (quantize records its scheme here).
  std::map<std::string, std::string> metadata;
};

// `path` is a model folder (open_clip_config.json + open_clip_model.safetensors, a transformers
// folder with config.json + model.safetensors or a sharded index, a diffusers text_encoder folder)
// or a single weights file (.safetensors, .bin/.pt/.pth torch zip, TorchScript .pt; a
// .safetensors written by save_checkpoint carries its config in its metadata), including a
// Stable Diffusion 1.x / 2.x / XL single-file checkpoint, of which the text encoder named by
// opts.component is loaded (Layout kSDSingleFile; its architecture is derived from the shapes
// with 64-wide heads, QuickGELU for CLIP ViT-L/14 and GELU for the OpenCLIP towers).
Checkpoint load_checkpoint(const std::string& path, const LoadOptions& opts = {});

// Writes `ckpt` into the folder `dir` (created if needed) in a layout: kOpenAI writes
// open_clip_config.json + open_clip_model.safetensors (OpenAI state-dict names, fused in_proj,
// [in, out] projections); kHF and kDiffusers write config.json + model.safetensors (transformers
// names; text-only models keep the `text_model.` prefix as transformers 4 does) and, for models
// with a vision tower, preprocessor_config.json. When `dir` ends in ".safetensors", one file is
// written instead, with the same tensor names and the config text in its metadata
// ("open_clip_config", or "hf_config" and "hf_preprocessor_config"), where load_checkpoint finds
// it. Tensors keep their dtype (int8 weights travel with their `_scale` companions);
// ckpt.metadata is written into the safetensors header. Every file is written to a temporary
// and renamed, so an existing output is never left half-overwritten. Throws when the layout
// cannot express the model (a ResNet in transformers' layout, a single tower in OpenCLIP's).
void save_checkpoint(const Checkpoint& ckpt, const std::string& dir, Layout layout);

// The metadata keys of a single-file checkpoint that hold its config files' text.
inline constexpr const char* kMetaOpenClipConfig = "open_clip_config";
inline constexpr const char* kMetaHfConfig = "hf_config";
inline constexpr const char* kMetaHfPreprocessorConfig = "hf_preprocessor_config";

// Which layout a set of tensor names is in: kOpenAI (visual.*, transformer.resblocks.*,
// token_embedding.weight, ...), kHF (text_model.*, vision_model.*, or transformers 5's unprefixed
// single-tower names); nullopt when neither.
std::optional<Layout> detect_layout(const std::vector<std::string>& names);

}  // namespace clipkit::io
