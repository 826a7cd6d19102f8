#include "model/text_encoder.h"

#include <cstring>

#include "core/error.h"
#include "model/transformer.h"
#include "ops/embedding.h"
#include "ops/linear.h"
#include "ops/norm.h"

namespace clipkit::model {

TextEncoder::TextEncoder(io::TextConfig config, TextParams params)
    : config_(std::move(config)), params_(std::move(params)) {}

namespace {

int64_t id_at(const Tensor& ids, int64_t i) {
  return ids.dtype() == DType::I32 ? int64_t(ids.data<int32_t>()[i]) : ids.data<int64_t>()[i];
}

// Blocks to run for a `layers` option.
int blocks_to_run(int requested, int total) {
  const int k = requested == 0 ? total : requested > 0 ? requested : total + requested;
  CLIPKIT_CHECK(k >= 0 && k <= total, "text encoder: cannot run ", requested, " of ", total,
                " blocks");
  return k;
}

}  // namespace

Tensor TextEncoder::pool_indices(const Tensor& ids) const {
  const int64_t n = ids.dim(0), l = ids.dim(1);
  Tensor out = Tensor::empty(DType::I64, {n});
  for (int64_t r = 0; r < n; ++r) {
    int64_t best = 0;
    if (config_.pooling == io::TextPooling::kArgmax) {
      // torch.argmax returns the first maximal position.
      for (int64_t j = 1; j < l; ++j)
        if (id_at(ids, r * l + j) > id_at(ids, r * l + best)) best = j;
    } else {
      // transformers: (ids == eos).int().argmax(-1): the first match, or 0 when there is none.
      for (int64_t j = 0; j < l; ++j)
        if (id_at(ids, r * l + j) == config_.eot_token_id) {
          best = j;
          break;
        }
    }
    out.data<int64_t>()[r] = best;
  }
  return out;
}

Tensor TextEncoder::final_layer_norm(ops::Backend& be, const Tensor& x) const {
  Tensor y = Tensor::empty(DType::F32, x.shape());
  ops::layernorm(be, x, params_.ln_final.weight, params_.ln_final.bias, float(config_.ln_eps), y);
  return y;
}

void TextEncoder::prepare(ops::Backend& be) {
  for (BlockParams& b : params_.blocks)
    for (LinearParams* l : b.linears()) l->prepare(be);
}

TextOutputs TextEncoder::forward(ops::Backend& be, const Tensor& ids_in, const TextOptions& opts,
                                 ops::Workspace& ws) const {
  CLIPKIT_CHECK((ids_in.dtype() == DType::I32 || ids_in.dtype() == DType::I64) && ids_in.ndim() == 2,
                "text encoder: input ids must be I32 or I64 [N, L], got ", dtype_name(ids_in.dtype()),
                " ", shape_str(ids_in.shape()));
  const Tensor ids = ids_in.contiguous();
  const int64_t n = ids.dim(0), l = ids.dim(1), w = config_.width;
  CLIPKIT_CHECK(l >= 1 && l <= config_.context_length, "text encoder: sequence length ", l,
                " outside [1, ", config_.context_length, "]");
  const int k = blocks_to_run(opts.layers, config_.layers);

  Tensor key_mask;
  if (opts.attention_mask) {
    const Tensor& m = *opts.attention_mask;
    CLIPKIT_CHECK((m.dtype() == DType::I32 || m.dtype() == DType::I64) && m.shape() == ids.shape(),
                  "text encoder: attention mask must be I32 or I64 ", shape_str(ids.shape()),
                  ", got ", dtype_name(m.dtype()), " ", shape_str(m.shape()));
    key_mask = m.to(DType::I32);
  }

  TextOutputs out;
  // The residual stream: either the hidden-state outputs themselves or one workspace buffer.
  Tensor stream;
  if (opts.output_hidden_states) {
    stream = Tensor::empty(DType::F32, {k + 1, n, l, w});
    for (int i = 0; i <= k; ++i) out.hidden_states.push_back(stream[i]);
  } else {
    stream = ws.alloc({1, n, l, w});
  }
  Tensor x0 = stream[0];
  ops::embedding(params_.token_embedding, ids, &params_.positional_embedding, x0);

  TransformerOptions to;
  to.heads = config_.heads;
  to.act = config_.activation == io::Activation::kGelu ? ops::Act::kGelu : ops::Act::kQuickGelu;
  to.ln_eps = float(config_.ln_eps);
  to.causal = true;
  to.key_mask = key_mask.defined() ? &key_mask : nullptr;
  BlockScratch scratch = BlockScratch::make(ws, n * l, w, config_.mlp_width);
  for (int i = 0; i < k; ++i) {
    const Tensor in = opts.output_hidden_states ? stream[i] : x0;
    Tensor o = opts.output_hidden_states ? stream[i + 1] : x0;
    run_block(be, params_.blocks[i], in, o, to, scratch);
  }
  const Tensor last = opts.output_hidden_states ? stream[k] : x0;
  out.last_hidden_state = final_layer_norm(be, last);

  out.pool_index = pool_indices(ids);
  out.pooled = Tensor::empty(DType::F32, {n, w});
  for (int64_t r = 0; r < n; ++r)
    std::memcpy(out.pooled.data<float>() + r * w,
                out.last_hidden_state.data<float>() + (r * l + out.pool_index.data<int64_t>()[r]) * w,
                size_t(w) * sizeof(float));
  if (opts.project && params_.projection.defined()) {
    out.embeds = Tensor::empty(DType::F32, {n, params_.projection.dim(0)});
    ops::linear(be, out.pooled, params_.projection, nullptr, out.embeds);
  }
  if (opts.output_hidden_states && opts.ln_final_hidden_states)
    for (Tensor& h : out.hidden_states) h = final_layer_norm(be, h);
  return out;
}

}  // namespace clipkit::model
