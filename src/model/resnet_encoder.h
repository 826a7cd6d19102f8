// OpenAI's ModifiedResNet image tower (clip/model.py), run channels-last ([N*H*W, C] rows) so
// every convolution is one GEMM over the whole batch:
//   stem:  3 x (conv3x3 -> BatchNorm -> ReLU), the first with stride 2; then avgpool 2
//   stages 1-4 of Bottleneck blocks (expansion 4); the first block of stages 2-4 has stride 2:
//     out = relu(bn1(conv1x1(x))); out = relu(bn2(conv3x3(out))); out = avgpool_stride(out)
//     out = bn3(conv1x1(out)); identity = downsample(x) = bn(conv1x1(avgpool_stride(x)))
//     (when the stride or width changes, else x); y = relu(out + identity)
//   attention pool: tokens = [mean over positions; positions] + positional_embedding,
//     one query (the mean token) attends to all tokens with multi-head attention
//     (q/k/v projections, scale 1/sqrt(head_dim)), then c_proj -> [N, E].
// BatchNorm runs in inference mode with the running statistics, eps 1e-5.
#pragma once

#include "model/params.h"
#include "model/vision_encoder.h"

namespace clipkit::model {

class ResNetEncoder : public VisionEncoder {
 public:
  ResNetEncoder(io::VisionConfig config, ResNetParams params);
  const io::VisionConfig& config() const override { return config_; }
  const ResNetParams& params() const { return params_; }
  void prepare(ops::Backend& be) override;
  VisionOutputs forward(ops::Backend& be, const Tensor& pixels, const VisionOptions& opts,
                        ops::Workspace& ws) const override;

 private:
  io::VisionConfig config_;
  ResNetParams params_;
};

}  // namespace clipkit::model
