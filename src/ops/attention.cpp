#include "ops/attention.h"

#include <cmath>

#include "core/error.h"
#include "ops/check.h"

namespace clipkit::ops {

namespace {

struct Seq {
  float* data;
  int64_t batch_stride, row_stride;
};

// A [N, T, W] view with unit stride in W.
Seq seq_view(const char* arg, const Tensor& t, int64_t n, int64_t len, int64_t width) {
  detail::check_f32("attention", arg, t);
  detail::check_shape("attention", arg, t, {n, len, width});
  CLIPKIT_CHECK(t.strides()[2] == 1 || width == 1, "attention: argument ",
                detail::describe(arg, t), " needs a unit stride in its last dimension, has strides ",
                shape_str(t.strides()));
  return {const_cast<float*>(t.data<float>()), t.strides()[0], t.strides()[1]};
}

AttentionArgs make_args(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                        const AttentionOptions& o) {
  CLIPKIT_CHECK(q.ndim() == 3 && k.ndim() == 3, "attention: q and k must be [N, T, W], got ",
                shape_str(q.shape()), " and ", shape_str(k.shape()));
  const int64_t n = q.shape()[0], tq = q.shape()[1], w = q.shape()[2], tk = k.shape()[1];
  CLIPKIT_CHECK(o.heads > 0 && w % o.heads == 0, "attention: width ", w,
                " is not divisible by the head count ", o.heads);
  const Seq sq = seq_view("q", q, n, tq, w), sk = seq_view("k", k, n, tk, w),
            sv = seq_view("v", v, n, tk, w), so = seq_view("out", out, n, tq, w);
  AttentionArgs a;
  a.batch = n;
  a.heads = o.heads;
  a.head_dim = w / o.heads;
  a.q_len = tq;
  a.kv_len = tk;
  a.q = sq.data, a.q_batch_stride = sq.batch_stride, a.q_row_stride = sq.row_stride;
  a.k = sk.data, a.k_batch_stride = sk.batch_stride, a.k_row_stride = sk.row_stride;
  a.v = sv.data, a.v_batch_stride = sv.batch_stride, a.v_row_stride = sv.row_stride;
  a.out = so.data, a.out_batch_stride = so.batch_stride, a.out_row_stride = so.row_stride;
  a.scale = o.scale != 0 ? o.scale : float(1.0 / std::sqrt(double(a.head_dim)));
  a.causal = o.causal;
  if (o.causal)
    CLIPKIT_CHECK(tq == tk, "attention: causal masking needs equal query and key lengths, got ", tq,
                  " and ", tk);
  if (o.key_mask) {
    CLIPKIT_CHECK(o.key_mask->dtype() == DType::I32 && o.key_mask->is_contiguous() &&
                      o.key_mask->shape() == Shape({n, tk}),
                  "attention: key mask must be contiguous I32 ", shape_str({n, tk}), ", got ",
                  dtype_name(o.key_mask->dtype()), " ", shape_str(o.key_mask->shape()));
    a.key_mask = o.key_mask->data<int32_t>();
  }
  if (o.probs) {
    detail::check_f32("attention", "probs", *o.probs);
    CLIPKIT_CHECK(o.probs->is_contiguous() && o.probs->shape() == Shape({n, o.heads, tq, tk}),
                  "attention: probs must be contiguous ", shape_str({n, o.heads, tq, tk}), ", got ",
                  shape_str(o.probs->shape()));
    a.probs = o.probs->data<float>();
  }
  return a;
}

}  // namespace

void attention(Backend& be, const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
               const AttentionOptions& opts) {
  be.attention(make_args(q, k, v, out, opts));
}

void attention_backward(Backend& be, const Tensor& q, const Tensor& k, const Tensor& v,
                        const AttentionOptions& opts, const Tensor& dout, Tensor& dq, Tensor& dk,
                        Tensor& dv) {
  CLIPKIT_CHECK(opts.probs, "attention_backward: the forward's probabilities are required");
  const AttentionArgs a = make_args(q, k, v, dout, opts);
  // dq/dk/dv must be addressed exactly like q/k/v, since the kernel reuses their strides.
  auto same_layout = [](const char* arg, const Tensor& g, const Tensor& t) {
    CLIPKIT_CHECK(g.shape() == t.shape() && g.strides() == t.strides() && g.dtype() == DType::F32,
                  "attention_backward: ", arg, " must have the shape and strides of its input (",
                  shape_str(t.shape()), ", strides ", shape_str(t.strides()), ")");
  };
  same_layout("dq", dq, q);
  same_layout("dk", dk, k);
  same_layout("dv", dv, v);
  AttentionGrads g;
  g.dout = a.out;
  g.dq = dq.data<float>();
  g.dk = dk.data<float>();
  g.dv = dv.data<float>();
  be.attention_backward(a, g);
}

}  // namespace clipkit::ops
