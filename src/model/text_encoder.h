// The CLIP text tower (OpenAI's CLIP.encode_text, transformers' CLIPTextModel(+WithProjection)):
//   x0 = token_embedding[ids] + positional_embedding[:L]
//   x_i = block_i(x_{i-1})           causal self-attention (plus an optional padding mask)
//   last = ln_final(x_k)             k = number of blocks run (all unless stopped early)
//   pooled = last[n, pool_index[n]]  first <|endoftext|> (kFirstEot) or argmax of the ids (kArgmax)
//   embeds = pooled projection^T     (unnormalised)
#pragma once

#include <vector>

#include "core/tensor.h"
#include "io/config.h"
#include "model/params.h"
#include "ops/backend.h"
#include "ops/workspace.h"

namespace clipkit::model {

struct TextOptions {
  // Blocks to run: 0 = all; k > 0 = the first k; k < 0 = all but the last |k|. Stopping early is
  // "CLIP skip": layers = -1 gives ln_final(hidden_states[-2]) as last_hidden_state (SD 1.x's
  // clip_skip=1 in diffusers, "CLIP skip 2" in community numbering).
  int layers = 0;
  // Keep every residual stream: hidden_states[0] = embeddings, [i] = after block i.
  bool output_hidden_states = false;
  // Return ln_final applied to each kept hidden state instead of the raw residual stream.
  bool ln_final_hidden_states = false;
  // I32 or I64 [N, L], 1 = token, 0 = padding: padding keys are masked in addition to the causal
  // mask (transformers' CLIPTextModel attention_mask). Null: causal mask only (OpenAI).
  const Tensor* attention_mask = nullptr;
  // Compute `embeds` when the tower has a projection.
  bool project = true;
};

struct TextOutputs {
  std::vector<Tensor> hidden_states;  // [N, L, W] each (when asked for)
  Tensor last_hidden_state;           // [N, L, W]
  Tensor pool_index;                  // I64 [N]
  Tensor pooled;                      // [N, W], before the projection
  Tensor embeds;                      // [N, E], projected, not normalised (undefined without one)
};

class TextEncoder {
 public:
  TextEncoder(io::TextConfig config, TextParams params);

  const io::TextConfig& config() const { return config_; }
  const TextParams& params() const { return params_; }

  // Arranges the weights for backend `be` (see VisionEncoder::prepare).
  void prepare(ops::Backend& be);
  // ids: I32 or I64 [N, L] with 1 <= L <= context_length.
  TextOutputs forward(ops::Backend& be, const Tensor& ids, const TextOptions& opts,
                      ops::Workspace& ws) const;
  // ln_final over the last dimension of x ([.., W], contiguous), into a new tensor.
  Tensor final_layer_norm(ops::Backend& be, const Tensor& x) const;
  // The pooled position of each row of ids (I64 [N]), by the config's pooling rule.
  Tensor pool_indices(const Tensor& ids) const;

 private:
  io::TextConfig config_;
  TextParams params_;
};

}  // namespace clipkit::model
