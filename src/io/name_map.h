// The explicit name maps between each checkpoint layout and the canonical parameter names of
// src/io/CANONICAL.md. A map is a list of rules, one per tensor of the file; applying it checks
// every shape against the architecture and leaves no tensor unused. The same rules run backwards
// to write a checkpoint in a layout (save_checkpoint).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"

namespace clipkit::io {

enum class MapOp {
  kSame,       // the file tensor is the canonical tensor
  kTranspose,  // the file stores [in, out]; canonical is its transposed view [out, in]
  kSplitRows,  // a fused [3W, ...] tensor whose row blocks are the canonical q, k, v
};

struct NameRule {
  std::string file;                    // name in the checkpoint
  std::vector<std::string> canonical;  // one name, or q, k, v for kSplitRows
  MapOp op = MapOp::kSame;
};

// Every canonical parameter of an architecture with its shape, in a fixed order (text tower,
// vision tower, logit_scale). logit_scale is included when both towers are.
std::vector<std::pair<std::string, Shape>> canonical_shapes(const ModelConfig& c);

// OpenAI / OpenCLIP state-dict names (visual.*, transformer.resblocks.*, ...).
std::vector<NameRule> openai_name_map(const ModelConfig& c);

// transformers names. The text and vision module prefixes are "text_model." / "vision_model." in
// CLIPModel and in files written by transformers 4; transformers 5 writes single-tower models
// without them (empty prefix).
struct HfPrefixes {
  std::string text = "text_model.";
  std::string vision = "vision_model.";
};
std::vector<NameRule> hf_name_map(const ModelConfig& c, const HfPrefixes& p = {});

// The reverse map: canonical name -> the file tensor holding it (q/k/v of a fused projection all
// name the fused tensor).
std::map<std::string, std::string> reverse_map(const std::vector<NameRule>& rules);
// Canonical -> OpenAI and canonical -> transformers names for an architecture.
std::map<std::string, std::string> canonical_to_openai(const ModelConfig& c);
std::map<std::string, std::string> canonical_to_hf(const ModelConfig& c);

// Buffers that are stored in some files but are not parameters (BatchNorm num_batches_tracked,
// transformers' position_ids, the input_resolution / context_length / vocab_size scalars of
// OpenAI's TorchScript files); loaders skip them.
bool is_ignored_tensor(const std::string& file_name);

// Applies `rules` to a file's tensors: every rule's tensor must be present with the shape the
// architecture needs and a dtype of F32, F16 or BF16, and every tensor of the file must be used
// by exactly one rule (ignored buffers aside). A transformer block linear weight may instead be
// I8 with its per-row scales in "<file name>_scale" (F32 [rows]), which map to
// "<canonical name>_scale" (split into q/k/v like the weight); a scale without an int8 weight is
// an error. Returns canonical views (slices and transposes of the file's tensors, never copies).
// Errors name `label`, the file tensor, the canonical name and the expected shape.
std::map<std::string, Tensor> map_to_canonical(const std::vector<NameRule>& rules,
                                               const ModelConfig& c,
                                               const std::map<std::string, Tensor>& file_tensors,
                                               const std::string& label);

// The inverse of map_to_canonical: the file tensors of a layout built from canonical ones
// (transposed views and fused q/k/v are materialised as contiguous tensors; int8 weights bring
// their `_scale` companions).
std::vector<std::pair<std::string, Tensor>> map_from_canonical(
    const std::vector<NameRule>& rules, const std::map<std::string, Tensor>& params,
    const std::string& label);

}  // namespace clipkit::io
