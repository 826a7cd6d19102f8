// Canonical parameter structs: every weight the towers use, resolved from a checkpoint's canonical
// names (src/io/CANONICAL.md) once, when the model is built, and checked against the architecture
// in the config. Forward passes only touch these structs, never names.
//
// Float32 weights are kept as they are in the checkpoint: views into the memory-mapped file,
// strided where the layout asks for it (a transposed projection, a row block of OpenAI's fused
// in_proj); the GEMM reads them in place. The big tensors - every linear layer of the blocks and
// the token embedding - are also kept in their stored 16-bit or int8 precision (the kernels widen
// them as they read), so a float16 checkpoint takes half the memory of a float32 one. The small
// rest (LayerNorms, biases, positions, projections, convolutions) is converted to float32 once.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "ops/linear.h"

namespace clipkit::model {

struct LayerNormParams {
  Tensor weight, bias;  // [W]
};

// A linear layer: weight [out, in] in its stored precision (F32 views into the checkpoint; F16 and
// BF16 kept as 16-bit, widened by the kernels; I8 with a per-row scale), bias [out] as F32, and
// the backend's prepared form of the weight (made by the encoders' prepare()).
using LinearParams = ops::LinearWeight;

struct BlockParams {
  LayerNormParams ln_1, ln_2;
  // q, k and v as one [3W, W] weight and [3W] bias, so the three projections are one GEMM: a view
  // when the checkpoint stores them back to back (OpenAI's in_proj), else a copy in their stored
  // precision. q, k, v are row blocks of it.
  LinearParams q, k, v, out_proj, fc1, fc2;
  LinearParams qkv;

  // Every linear layer that the forward pass runs: qkv (or q, k, v when apart), out_proj, fc1, fc2.
  std::vector<LinearParams*> linears() {
    if (qkv.weight.defined()) return {&qkv, &out_proj, &fc1, &fc2};
    return {&q, &k, &v, &out_proj, &fc1, &fc2};
  }
};

struct TextParams {
  Tensor token_embedding;       // [V, W], F32, F16 or BF16
  Tensor positional_embedding;  // [L, W]
  std::vector<BlockParams> blocks;
  LayerNormParams ln_final;
  Tensor projection;  // [E, W]; undefined without projection
};

struct VitParams {
  Tensor patch_embed;           // [W, 3, P, P]
  Tensor class_embedding;       // [W]
  Tensor positional_embedding;  // [T, W]
  LayerNormParams ln_pre, ln_post;
  std::vector<BlockParams> blocks;
  Tensor projection;  // [E, W]; undefined without projection
};

struct BatchNormParams {
  Tensor weight, bias, running_mean, running_var;  // [C]
};

struct BottleneckParams {
  int64_t inplanes = 0, planes = 0, stride = 1;
  Tensor conv1, conv2, conv3;  // [planes, inplanes, 1, 1], [planes, planes, 3, 3], [4 planes, planes, 1, 1]
  BatchNormParams bn1, bn2, bn3;
  bool has_downsample = false;
  Tensor downsample_conv;  // [4 planes, inplanes, 1, 1]
  BatchNormParams downsample_bn;
};

struct ResNetParams {
  std::array<Tensor, 3> stem_conv;
  std::array<BatchNormParams, 3> stem_bn;
  std::array<std::vector<BottleneckParams>, 4> stages;
  Tensor attnpool_positional_embedding;  // [grid^2 + 1, 32 W]
  LinearParams attnpool_q, attnpool_k, attnpool_v, attnpool_c;
};

// Resolves canonical names to tensors, checking shapes and converting 16-bit floats. Every
// failure names the checkpoint, the tensor and the expected shape.
class ParamResolver {
 public:
  ParamResolver(const std::map<std::string, Tensor>& params, std::string label)
      : params_(params), label_(std::move(label)) {}

  // The tensor `name` with exactly `shape`, as float32 (a view when already F32).
  Tensor get(const std::string& name, const Shape& shape);
  // The tensor `name` with exactly `shape` in its stored precision, which must be one of `allowed`.
  Tensor get_stored(const std::string& name, const Shape& shape, std::initializer_list<DType> allowed);
  bool has(const std::string& name) const { return params_.count(name) != 0; }

  LayerNormParams layernorm(const std::string& prefix, int64_t width);
  LinearParams linear(const std::string& prefix, int64_t out, int64_t in, bool bias = true);
  BatchNormParams batchnorm(const std::string& prefix, int64_t channels);
  BlockParams block(const std::string& prefix, int64_t width, int64_t mlp_width);

 private:
  // The attention output and MLP layers of a block.
  BlockParams finish_block(BlockParams& b, const std::string& prefix, int64_t width, int64_t mlp_width);

  const std::map<std::string, Tensor>& params_;
  std::string label_;
};

TextParams resolve_text(ParamResolver& r, const io::TextConfig& c, int embed_dim);
VitParams resolve_vit(ParamResolver& r, const io::VisionConfig& c, int embed_dim);
ResNetParams resolve_resnet(ParamResolver& r, const io::VisionConfig& c, int embed_dim);

}  // namespace clipkit::model
