// OpenAI's ModifiedResNet image tower (clip/model.py):
//   stem:  3 x (conv3x3 -> BatchNorm -> ReLU), the first with stride 2; then avgpool 2
//   stages 1-4 of Bottleneck blocks (expansion 4); the first block of stages 2-4 has stride 2:
//     out = relu(bn1(conv1x1(x))); out = relu(bn2(conv3x3(out))); out = avgpool_stride(out)
//     out = bn3(conv1x1(out)); identity = downsample(x) = bn(conv1x1(avgpool_stride(x)))
//     (when the stride or width changes, else x); y = relu(out + identity)
//   attention pool: tokens = [mean over positions; positions] + positional_embedding,
//     one query (the mean token) attends to all tokens with multi-head attention
//     (q/k/v projections, scale 1/sqrt(head_dim)), then c_proj -> [N, E].
// BatchNorm runs in inference mode with the running statistics, eps 1e-5.
//
// Every convolution is a prepared layer (ops::ConvLayer) with its BatchNorm folded in and its
// ReLU, and for conv3 the residual add, fused: conv3 accumulates into the buffer that holds the
// identity (the block's input itself when there is no downsample branch). Activations stay in
// the backend's convolution layout (Backend::conv_layout()) from the stem to the last stage and
// are converted only for the hidden-state outputs (NCHW) and the attention pool (channels-last
// rows).
#pragma once

#include <array>
#include <vector>

#include "model/params.h"
#include "model/vision_encoder.h"
#include "ops/conv.h"

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
  struct BlockLayers {
    ops::ConvLayer conv1, conv2, conv3, downsample;
    int64_t stride = 1;
    bool has_downsample = false;
  };
  // The tower's convolutions as layers with their BatchNorm and epilogue attached.
  struct Layers {
    std::array<ops::ConvLayer, 3> stem;
    std::array<std::vector<BlockLayers>, 4> stages;
  };
  Layers make_layers() const;
  static void prepare_layers(Layers& layers, ops::Backend& be);
  VisionOutputs run(ops::Backend& be, const Layers& layers, const Tensor& pixels,
                    const VisionOptions& opts, ops::Workspace& ws) const;

  io::VisionConfig config_;
  ResNetParams params_;
  Layers layers_;                               // prepared for *prepared_for_
  const ops::Backend* prepared_for_ = nullptr;
};

}  // namespace clipkit::model
