#include "model/transformer.h"

#include <cstring>

#include "ops/attention.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/pointwise.h"

namespace clipkit::model {

BlockScratch BlockScratch::make(ops::Workspace& ws, int64_t rows, int64_t width, int64_t mlp_width) {
  return {ws.alloc({rows, width}), ws.alloc({rows, 3 * width}), ws.alloc({rows, width}),
          ws.alloc({rows, mlp_width})};
}

void run_block(ops::Backend& be, const BlockParams& p, const Tensor& in, Tensor& out,
               const TransformerOptions& o, BlockScratch& s) {
  const int64_t n = in.dim(0), t = in.dim(1), w = in.dim(2), rows = n * t;
  const Tensor x_in = in.reshape({rows, w});
  Tensor x = out.reshape({rows, w});
  if (out.raw() != in.raw()) std::memcpy(x.raw(), x_in.raw(), x_in.nbytes());

  // Attention half.
  Tensor ln = s.ln.slice(0, 0, rows);
  ops::layernorm(be, x, p.ln_1.weight, p.ln_1.bias, o.ln_eps, ln);
  Tensor qkv = s.qkv.slice(0, 0, rows);
  if (p.qkv.weight.defined()) {
    ops::linear(be, ln, p.qkv, qkv);
  } else {
    const LinearParams* proj[3] = {&p.q, &p.k, &p.v};
    for (int i = 0; i < 3; ++i) {
      Tensor part = qkv.slice(1, i * w, (i + 1) * w);
      ops::linear(be, ln, *proj[i], part);
    }
  }
  const Tensor qkv3 = qkv.reshape({n, t, 3 * w});
  Tensor attn = s.attn.slice(0, 0, rows);
  Tensor attn3 = attn.reshape({n, t, w});
  ops::AttentionOptions ao;
  ao.heads = o.heads;
  ao.causal = o.causal;
  ao.key_mask = o.key_mask;
  ops::attention(be, qkv3.slice(2, 0, w), qkv3.slice(2, w, 2 * w), qkv3.slice(2, 2 * w, 3 * w), attn3,
                 ao);
  ops::linear(be, attn, p.out_proj, x, ops::Act::kIdentity, /*accumulate=*/true);  // x += ...

  // MLP half.
  ops::layernorm(be, x, p.ln_2.weight, p.ln_2.bias, o.ln_eps, ln);
  Tensor h = s.mlp.slice(0, 0, rows);
  ops::linear(be, ln, p.fc1, h, o.act);  // the activation is the GEMM's epilogue
  ops::linear(be, h, p.fc2, x, ops::Act::kIdentity, /*accumulate=*/true);  // x += ...
}

}  // namespace clipkit::model
