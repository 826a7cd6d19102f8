#include "model/vit_encoder.h"

#include <cstring>

#include "core/error.h"
#include "model/transformer.h"
#include "ops/conv.h"
#include "ops/linear.h"
#include "ops/norm.h"

namespace clipkit::model {

int64_t check_pixels(const Tensor& pixels, const io::VisionConfig& c) {
  CLIPKIT_CHECK(pixels.dtype() == DType::F32 && pixels.ndim() == 4 && pixels.dim(1) == 3 &&
                    pixels.dim(2) == c.image_size && pixels.dim(3) == c.image_size,
                "image encoder: pixels must be F32 [N, 3, ", c.image_size, ", ", c.image_size,
                "], got ", dtype_name(pixels.dtype()), " ", shape_str(pixels.shape()));
  return pixels.dim(0);
}

VitEncoder::VitEncoder(io::VisionConfig config, VitParams params)
    : config_(std::move(config)), params_(std::move(params)) {}

void VitEncoder::prepare(ops::Backend& be) {
  for (BlockParams& b : params_.blocks)
    for (LinearParams* l : b.linears()) l->prepare(be);
}

VisionOutputs VitEncoder::forward(ops::Backend& be, const Tensor& pixels, const VisionOptions& opts,
                                  ops::Workspace& ws) const {
  const int64_t n = check_pixels(pixels, config_);
  const int64_t w = config_.width, grid = config_.image_size / config_.patch_size;
  const int64_t np = grid * grid, t = np + 1;
  const int total = config_.layers;
  const int k = opts.layers == 0 ? total : opts.layers > 0 ? opts.layers : total + opts.layers;
  CLIPKIT_CHECK(k >= 0 && k <= total, "image encoder: cannot run ", opts.layers, " of ", total,
                " blocks");
  VisionOutputs out;

  // Patch embedding: [N*G*G, W], patches in row-major order.
  Tensor patches = opts.output_hidden_states ? Tensor::empty(DType::F32, {n * np, w})
                                             : ws.alloc({n * np, w});
  ops::conv2d(be, pixels, params_.patch_embed, nullptr, config_.patch_size, 0, patches, ws);

  // Class token + patches, plus positions (OpenAI adds the positions after concatenating).
  Tensor emb = opts.output_hidden_states ? Tensor::empty(DType::F32, {n, t, w}) : ws.alloc({n, t, w});
  const float* cls = params_.class_embedding.data<float>();
  const Tensor& pos_t = params_.positional_embedding;
  CLIPKIT_CHECK(pos_t.strides()[1] == 1, "image encoder: positional embedding needs contiguous rows");
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t i = 0; i < t; ++i) {
      const float* src = i == 0 ? cls : patches.data<float>() + (b * np + i - 1) * w;
      const float* pos = pos_t.data<float>() + i * pos_t.strides()[0];
      float* dst = emb.data<float>() + (b * t + i) * w;
      for (int64_t c = 0; c < w; ++c) dst[c] = src[c] + pos[c];
    }
  }

  Tensor stream;
  if (opts.output_hidden_states) {
    stream = Tensor::empty(DType::F32, {k + 1, n, t, w});
    for (int i = 0; i <= k; ++i) out.hidden_states.push_back(stream[i]);
    out.patch_embeds = patches.reshape({n, np, w});
    out.embeddings = emb;
  } else {
    stream = ws.alloc({1, n, t, w});
  }
  Tensor x0 = stream[0];
  ops::layernorm(be, emb, params_.ln_pre.weight, params_.ln_pre.bias, float(config_.ln_eps), x0);

  TransformerOptions to;
  to.heads = config_.heads;
  to.act = config_.activation == io::Activation::kGelu ? ops::Act::kGelu : ops::Act::kQuickGelu;
  to.ln_eps = float(config_.ln_eps);
  BlockScratch scratch = BlockScratch::make(ws, n * t, w, config_.mlp_width);
  for (int i = 0; i < k; ++i) {
    const Tensor in = opts.output_hidden_states ? stream[i] : x0;
    Tensor o = opts.output_hidden_states ? stream[i + 1] : x0;
    run_block(be, params_.blocks[i], in, o, to, scratch);
  }
  const Tensor last = opts.output_hidden_states ? stream[k] : x0;
  out.last_hidden_state = opts.output_hidden_states ? last : last.clone();

  // ln_post of the class tokens: rows 0 of each item, read with a row stride of T*W.
  const Tensor cls_rows = Tensor::view(last.owner(), last.raw(), DType::F32, {n, w}, {t * w, 1});
  out.pooled = Tensor::empty(DType::F32, {n, w});
  ops::layernorm(be, cls_rows, params_.ln_post.weight, params_.ln_post.bias, float(config_.ln_eps),
                 out.pooled);
  if (opts.project && params_.projection.defined()) {
    out.embeds = Tensor::empty(DType::F32, {n, params_.projection.dim(0)});
    ops::linear(be, out.pooled, params_.projection, nullptr, out.embeds);
  }
  return out;
}

}  // namespace clipkit::model
