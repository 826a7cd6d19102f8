// Quantisation of a loaded checkpoint (canonical names, src/io/CANONICAL.md) into a smaller one
// that every command loads as it loads any other: `clipkit quantize` writes the result with
// save_checkpoint.
//
//  - int8: the linear weights of the transformer blocks of both towers
//    ({text,vision}.blocks.{i}.attn.{q,k,v,out}_proj.weight, .mlp.fc1.weight, .mlp.fc2.weight)
//    become I8 with one symmetric scale per output row, stored next to the weight as
//    `<weight>_scale` (F32 [out]):
//        scale[n] = max_k |w[n,k]| / 127            (float32 division; 1 for an all-zero row)
//        q[n,k]   = clamp(rint(w[n,k] / scale[n]), -127, 127)   (quotient in float64, half to even)
//    so q[n,k] * scale[n] is within scale[n] / 2 of w[n,k]. 16-bit weights are widened first
//    (exactly). Every other tensor (embeddings, LayerNorms, biases, patch and ResNet
//    convolutions, projections, the attention pool) is kept as it is: those are either small or
//    read in ways an int8 GEMM does not serve. The engine runs these weights with per-token int8
//    activations (ops::Backend::linear).
//  - f16 / bf16: every floating tensor is rounded to the 16-bit type (round to nearest even, as
//    PyTorch's .half() / .bfloat16()); int8 weights and their float32 scales stay as they are.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/tensor.h"
#include "io/checkpoint.h"

namespace clipkit::io {

enum class QuantizeTarget { kInt8, kF16, kBF16 };
// "int8", "f16", "bf16".
const char* quantize_target_name(QuantizeTarget t);
// Parses one of the names above; throws an Error listing them otherwise.
QuantizeTarget parse_quantize_target(std::string_view name);

// Whether a canonical parameter is a weight `clipkit quantize` turns into int8 (the transformer
// block linear weights listed above). Loaders accept I8 only for these names.
bool is_int8_weight_name(const std::string& canonical_name);
// The companion holding the per-row scales of an int8 weight: "<weight name>_scale".
std::string scale_name(const std::string& weight_name);

// One weight quantised per output row. `weight` is a 2-D float tensor (F32, F16 or BF16, any
// strides); `q` is I8 [N, K] (contiguous), `scale` F32 [N]. Throws when the weight holds a
// non-finite value (its name and row in the message).
struct Int8Rows {
  Tensor q;
  Tensor scale;
};
Int8Rows quantize_int8_rows(const Tensor& weight);
// q[n, k] * scale[n] as a contiguous F32 [N, K] tensor.
Tensor dequantize_int8_rows(const Tensor& q, const Tensor& scale);

// A float tensor rounded to F16 or BF16 (a contiguous copy; a tensor already of that dtype is
// returned as it is). Throws, naming the tensor, when a finite value overflows float16's range
// (|v| > 65504 rounds to infinity), which would silently break the model.
Tensor round_to_16bit(const Tensor& t, DType dtype);

struct QuantizeSummary {
  int64_t converted = 0;      // tensors whose dtype changed
  int64_t kept = 0;           // tensors written as they were
  int64_t scales_added = 0;   // `_scale` companions created
  size_t bytes_before = 0;    // tensor data of the input
  size_t bytes_after = 0;     // tensor data of the result (scales included)
};

// The checkpoint with its weights converted as described above: same config, path and layout,
// new owned tensors for the converted ones (the rest share the input's memory). An int8
// checkpoint given to kInt8 keeps its int8 weights; a 16-bit one is widened where it is quantised
// to int8. `metadata` says what the result holds (written into the safetensors header):
//   "quantization"        "int8", "f16", "bf16", or "int8+f16" / "int8+bf16" for int8 weights
//                         with every other floating tensor (scales aside) 16-bit
//   "quantization.int8"   the int8 scheme and the weights it covers (present with int8 weights)
Checkpoint quantize_checkpoint(const Checkpoint& ck, QuantizeTarget to,
                               QuantizeSummary* summary = nullptr);

}  // namespace clipkit::io
