// Loading a CLIP checkpoint as people have it, onto the canonical parameter names of
// src/io/CANONICAL.md, with the architecture from a config file, a named preset or the state
// dict's shapes. Every tensor is shape-checked against the config, every tensor of the file must be
// used exactly once, and fp32 tensors are views into the memory-mapped file.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"

namespace clipkit::io {

enum class Layout { kOpenAI, kHF, kDiffusers, kSDSingleFile };
const char* layout_name(Layout l);

struct LoadOptions {
  std::string arch;  // preset name (ViT-B-32, RN50, ...) overriding any config; empty = detect
};

struct Checkpoint {
  ModelConfig config;
  Layout layout = Layout::kOpenAI;
  std::string path;
  // Canonical name -> tensor in its on-disk dtype (F32, F16 or BF16), possibly a strided view.
  std::map<std::string, Tensor> params;
  // The canonical tensor or an Error naming the checkpoint and the missing name.
  const Tensor& param(const std::string& name) const;
  // Total parameter count.
  int64_t parameter_count() const;
};

// `path` is a model folder (open_clip_config.json + open_clip_model.safetensors, a transformers
// folder with config.json + model.safetensors or a sharded index, a diffusers text_encoder folder)
// or a single weights file (.safetensors, .bin/.pt/.pth torch zip, TorchScript .pt).
Checkpoint load_checkpoint(const std::string& path, const LoadOptions& opts = {});

}  // namespace clipkit::io
