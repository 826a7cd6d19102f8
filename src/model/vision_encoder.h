// The image towers behind one interface: the Vision Transformer (vit_encoder.h) and OpenAI's
// ModifiedResNet (resnet_encoder.h).
#pragma once

#include <vector>

#include "core/tensor.h"
#include "io/config.h"
#include "ops/backend.h"
#include "ops/workspace.h"

namespace clipkit::model {

struct VisionOptions {
  // ViT blocks to run: 0 = all; k > 0 = the first k; k < 0 = all but the last |k| (the pooled
  // output then comes from the last block run). Ignored by the ResNet.
  int layers = 0;
  // Keep intermediate states (see VisionOutputs::hidden_states).
  bool output_hidden_states = false;
  // Compute `embeds` (the projection).
  bool project = true;
};

struct VisionOutputs {
  // ViT: [N, T, W] each; [0] = after ln_pre (the first block's input, transformers'
  // hidden_states[0]); [i] = after block i.
  // ResNet: NCHW [N, C, H, W]: [0] = stem (after its average pool), [1..4] = after each stage.
  std::vector<Tensor> hidden_states;
  // ViT with hidden states: patch embeddings [N, G*G, W] (the patch convolution, row-major
  // patches) and class + patches + positions before ln_pre [N, T, W].
  Tensor patch_embeds, embeddings;
  // ViT: output of the last block run, before ln_post [N, T, W]. ResNet: the last stage, NCHW.
  Tensor last_hidden_state;
  // ViT: ln_post of the class token [N, W]. ResNet: the attention pool's output [N, E].
  Tensor pooled;
  // [N, E], not normalised. ViT: pooled projection^T; ResNet: equal to pooled.
  Tensor embeds;
};

class VisionEncoder {
 public:
  virtual ~VisionEncoder() = default;
  virtual const io::VisionConfig& config() const = 0;
  // pixels: F32 [N, 3, S, S] (any strides) with S = image_size.
  virtual VisionOutputs forward(ops::Backend& be, const Tensor& pixels, const VisionOptions& opts,
                                ops::Workspace& ws) const = 0;
  // Arranges the weights for backend `be` (packed or quantised forms); forward passes on `be`
  // use them. Called by ClipModel whenever its backend is set.
  virtual void prepare(ops::Backend& be) = 0;
};

// Checks a pixel batch against the config; returns N.
int64_t check_pixels(const Tensor& pixels, const io::VisionConfig& c);

}  // namespace clipkit::model
