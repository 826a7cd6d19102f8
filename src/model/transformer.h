// The pre-LayerNorm residual transformer shared by the text tower and the ViT (OpenAI's
// ResidualAttentionBlock, transformers' CLIPEncoderLayer):
//   x = x + out_proj(attention(ln_1(x)))        multi-head, scale 1/sqrt(head_dim)
//   x = x + fc2(act(fc1(ln_2(x))))
// The whole batch goes through each GEMM as one [N*T, W] matrix.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "model/params.h"
#include "ops/backend.h"
#include "ops/workspace.h"

namespace clipkit::model {

struct TransformerOptions {
  int heads = 1;
  ops::Act act = ops::Act::kQuickGelu;
  float ln_eps = 1e-5f;
  bool causal = false;
  const Tensor* key_mask = nullptr;  // I32 [N, T] (0 = padding key) or null
};

// Scratch buffers for one pass through the blocks, taken from the workspace once.
struct BlockScratch {
  Tensor ln, qkv, attn, mlp;  // [M, W], [M, 3W], [M, W], [M, MLP]
  static BlockScratch make(ops::Workspace& ws, int64_t rows, int64_t width, int64_t mlp_width);
};

// One block: out = block(in). `in` and `out` are contiguous [N, T, W]; they may be the same tensor
// (the residual stream updated in place) or different ones (keeping `in` as a hidden state).
void run_block(ops::Backend& be, const BlockParams& p, const Tensor& in, Tensor& out,
               const TransformerOptions& o, BlockScratch& s);

}  // namespace clipkit::model
