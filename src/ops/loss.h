// CLIP's contrastive loss (symmetric InfoNCE with a learnable temperature), as in OpenAI's and
// OpenCLIP's training code, for B matched (image, text) pairs:
//   u = img / |img|,  w = txt / |txt|              (rows, L2)
//   L = exp(s) * u w^T                              logits_per_image [B, B]; logits_per_text = L^T
//   loss = (CE(L, arange B) + CE(L^T, arange B)) / 2,   CE(X, y) = mean_i (logsumexp X_i - X_i,y_i)
// backward:
//   dL = ((softmax_rows(L) - I) + (softmax_cols(L) - I)) / (2B)
//   du = exp(s) dL w,   dw = exp(s) dL^T u,   ds = sum(dL * L)
//   dimg = (du - u (u . du)) / |img|,  dtxt likewise
#pragma once

#include "core/tensor.h"
#include "ops/backend.h"

namespace clipkit::ops {

struct ContrastiveResult {
  double loss = 0;
  Tensor logits_per_image;  // [B, B]
};

// img, txt F32 [B, E] contiguous (unnormalised features); log_scale the stored logit_scale.
ContrastiveResult contrastive_loss(Backend& be, const Tensor& img, const Tensor& txt,
                                   float log_scale);

struct ContrastiveGrads {
  Tensor dimg, dtxt;  // [B, E]
  float dlog_scale = 0;
};
ContrastiveGrads contrastive_loss_backward(Backend& be, const Tensor& img, const Tensor& txt,
                                           float log_scale, double dloss = 1.0);

}  // namespace clipkit::ops
