// Multi-head scaled dot-product attention (the core of nn.MultiheadAttention and transformers'
// CLIPAttention, after the q/k/v projections and before the output projection).
//
// For each batch item n and head h (head h owns columns [h*D, (h+1)*D) of the width H*D):
//   S = scale * Q_h K_h^T                 [Tq, Tk]     scale = 1/sqrt(D) in CLIP
//   S[i, j] = -inf where key j is masked: causal (j > i) or key_mask[n, j] == 0
//   P = softmax(S) over j                 (float32, max-subtracted)
//   O_h = P V_h                           [Tq, D]
// A query row whose keys are all masked yields O = 0.
//
// backward (P saved by the forward):
//   dV_h = P^T dO_h;  dP = dO_h V_h^T;  dS = P * (dP - rowsum(dP * P))
//   dQ_h = scale * dS K_h;  dK_h = scale * dS^T Q_h
#pragma once

#include "core/tensor.h"
#include "ops/backend.h"

namespace clipkit::ops {

struct AttentionOptions {
  int heads = 1;
  float scale = 0;  // 0: 1/sqrt(head_dim)
  bool causal = false;
  // I32 [N, Tk] with 0 for masked (padding) keys, or null.
  const Tensor* key_mask = nullptr;
  // F32 [N, heads, Tq, Tk] (contiguous) to keep the probabilities for the backward pass, or null.
  Tensor* probs = nullptr;
};

// q [N, Tq, W], k and v [N, Tk, W], out [N, Tq, W] with W = heads * head_dim; each a view whose
// last dimension has unit stride (so column blocks of a fused [N, T, 3W] q/k/v buffer work).
void attention(Backend& be, const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
               const AttentionOptions& opts);

// Gradients given the forward's saved probabilities (opts.probs). dq, dk, dv are overwritten and
// use the same kind of views as q, k, v.
void attention_backward(Backend& be, const Tensor& q, const Tensor& k, const Tensor& v,
                        const AttentionOptions& opts, const Tensor& dout, Tensor& dq, Tensor& dk,
                        Tensor& dv);

}  // namespace clipkit::ops
