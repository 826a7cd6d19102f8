// The Vision Transformer (OpenAI's VisionTransformer, transformers' CLIPVisionTransformer):
//   patches = conv_PxP/P(pixels)                       [N, G*G, W] (a GEMM over unfolded patches)
//   x = [class_embedding; patches] + positional_embedding
//   x0 = ln_pre(x);  x_i = block_i(x_{i-1})           (no mask)
//   pooled = ln_post(x_k[:, 0]);  embeds = pooled projection^T
#pragma once

#include "model/params.h"
#include "model/vision_encoder.h"

namespace clipkit::model {

class VitEncoder : public VisionEncoder {
 public:
  VitEncoder(io::VisionConfig config, VitParams params);
  const io::VisionConfig& config() const override { return config_; }
  const VitParams& params() const { return params_; }
  void prepare(ops::Backend& be) override;
  VisionOutputs forward(ops::Backend& be, const Tensor& pixels, const VisionOptions& opts,
                        ops::Workspace& ws) const override;

 private:
  io::VisionConfig config_;
  VitParams params_;
};

}  // namespace clipkit::model
