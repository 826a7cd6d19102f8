// Finite-difference checks of every backward pass. The forward of each op is evaluated in float64
// with the reference kernels; the gradient of L = sum(r * y) (r random) by central differences is
// then compared with (a) the reference backward kernel in float64 and (b) the float32 op-level
// backward (src/ops) on both backends.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/ref/kernels.h"
#include "backends/ref/ref_backend.h"
#include "ops/attention.h"
#include "ops/linear.h"
#include "ops/loss.h"
#include "ops/norm.h"
#include "ops/pointwise.h"
#include "ops/softmax.h"

namespace clipkit {
namespace {

using ops::Act;
using D = std::vector<double>;

D randn(size_t n, uint32_t seed, double scale = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(0.0, scale);
  D v(n);
  for (double& x : v) x = d(rng);
  return v;
}

double rel_err(const D& a, const D& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return den == 0 ? num : num / den;
}

// Central differences of a scalar function of x.
D numeric_grad(D x, const std::function<double(const D&)>& f, double h = 1e-5) {
  D g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double fp = f(x);
    x[i] = keep - h;
    const double fm = f(x);
    x[i] = keep;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

double dot(const D& a, const D& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

Tensor f32(const D& v, Shape shape) {
  Tensor t = Tensor::empty(DType::F32, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = float(v[i]);
  return t;
}

D to_d(const Tensor& t) {
  Tensor c = t.contiguous();
  return D(c.data<float>(), c.data<float>() + c.numel());
}

std::vector<ops::Backend*> backends() {
  return {&ref::ref_backend(), &cpu::cpu_backend(cpu::GemmLibrary::kOneDnn)};
}

TEST(OpsGrad, Linear) {
  const int64_t m = 5, k = 7, n = 3;
  D x = randn(m * k, 1), w = randn(n * k, 2), b = randn(n, 3), r = randn(m * n, 4);
  auto fwd = [&](const D& xx, const D& ww, const D& bb) {
    D y(m * n);
    ref::gemm<double>({xx.data(), m, k, k, 1}, ops::BasicMat<double>{ww.data(), n, k, k, 1}.t(),
                      y.data(), n, 1.0, 0.0, bb.data());
    return dot(y, r);
  };
  const D gx = numeric_grad(x, [&](const D& v) { return fwd(v, w, b); });
  const D gw = numeric_grad(w, [&](const D& v) { return fwd(x, v, b); });
  const D gb = numeric_grad(b, [&](const D& v) { return fwd(x, w, v); });
  for (ops::Backend* be : backends()) {
    Tensor tx = f32(x, {m, k}), tdy = f32(r, {m, n});
    // The weight as a transposed view of a [k, n] buffer, as checkpoints store projections.
    D wt(k * n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k; ++j) wt[j * n + i] = w[i * k + j];
    Tensor tw = f32(wt, {k, n}).transpose();
    Tensor dx = Tensor::empty(DType::F32, {m, k}), dw = Tensor::empty(DType::F32, {n, k}),
           db = Tensor::empty(DType::F32, {n});
    ops::linear_backward(*be, tx, tw, tdy, &dx, &dw, &db);
    EXPECT_LT(rel_err(to_d(dx), gx), 1e-5) << be->name();
    EXPECT_LT(rel_err(to_d(dw), gw), 1e-5) << be->name();
    EXPECT_LT(rel_err(to_d(db), gb), 1e-5) << be->name();
    // Accumulation adds to what is there.
    ops::linear_backward(*be, tx, tw, tdy, nullptr, &dw, &db, true);
    D twice = gw;
    for (double& v : twice) v *= 2;
    EXPECT_LT(rel_err(to_d(dw), twice), 1e-5);
  }
}

TEST(OpsGrad, LayerNorm) {
  const int64_t rows = 4, cols = 9;
  D x = randn(rows * cols, 5, 2.0), g = randn(cols, 6), b = randn(cols, 7), r = randn(rows * cols, 8);
  auto fwd = [&](const D& xx, const D& gg, const D& bb) {
    D y(rows * cols);
    ref::layernorm<double>(xx.data(), rows, cols, cols, gg.data(), bb.data(), 1e-5, y.data(), cols,
                           nullptr, nullptr);
    return dot(y, r);
  };
  const D gx = numeric_grad(x, [&](const D& v) { return fwd(v, g, b); });
  const D gg = numeric_grad(g, [&](const D& v) { return fwd(x, v, b); });
  const D gb = numeric_grad(b, [&](const D& v) { return fwd(x, g, v); });
  // float64 reference backward
  D mean(rows), rstd(rows), y(rows * cols), dx(rows * cols), dg(cols, 0.0), dbv(cols, 0.0);
  ref::layernorm<double>(x.data(), rows, cols, cols, g.data(), b.data(), 1e-5, y.data(), cols,
                         mean.data(), rstd.data());
  ref::layernorm_backward<double>(x.data(), r.data(), rows, cols, g.data(), mean.data(),
                                  rstd.data(), dx.data(), dg.data(), dbv.data());
  EXPECT_LT(rel_err(dx, gx), 1e-7);
  EXPECT_LT(rel_err(dg, gg), 1e-7);
  EXPECT_LT(rel_err(dbv, gb), 1e-7);
  for (ops::Backend* be : backends()) {
    Tensor tx = f32(x, {rows, cols}), ty = Tensor::empty(DType::F32, {rows, cols});
    Tensor tm = Tensor::empty(DType::F32, {rows}), ts = Tensor::empty(DType::F32, {rows});
    Tensor tg = f32(g, {cols}), tb = f32(b, {cols});
    ops::layernorm(*be, tx, tg, tb, 1e-5f, ty, &tm, &ts);
    Tensor tdx = Tensor::empty(DType::F32, {rows, cols});
    Tensor tdg = Tensor::zeros(DType::F32, {cols}), tdb = Tensor::zeros(DType::F32, {cols});
    ops::layernorm_backward(*be, tx, f32(r, {rows, cols}), tg, tm, ts, tdx, &tdg, &tdb);
    EXPECT_LT(rel_err(to_d(tdx), gx), 1e-5) << be->name();
    EXPECT_LT(rel_err(to_d(tdg), gg), 1e-5) << be->name();
    EXPECT_LT(rel_err(to_d(tdb), gb), 1e-5) << be->name();
  }
}

TEST(OpsGrad, Activations) {
  const int64_t n = 40;
  D x = randn(n, 9, 3.0), r = randn(n, 10);
  x[0] = 0.3;  // keep away from relu's kink (FD is undefined there)
  for (double& v : x)
    if (std::fabs(v) < 1e-3) v = 0.5;
  for (Act act : {Act::kRelu, Act::kQuickGelu, Act::kGelu}) {
    auto fwd = [&](const D& xx) {
      D y(n);
      ref::activation<double>(act, xx.data(), y.data(), n);
      return dot(y, r);
    };
    const D gx = numeric_grad(x, fwd);
    D dx(n);
    ref::activation_backward<double>(act, x.data(), r.data(), dx.data(), n);
    EXPECT_LT(rel_err(dx, gx), 1e-8) << ops::act_name(act);
    for (ops::Backend* be : backends()) {
      Tensor tdx = Tensor::empty(DType::F32, {n});
      ops::activation_backward(*be, act, f32(x, {n}), f32(r, {n}), tdx);
      EXPECT_LT(rel_err(to_d(tdx), gx), 1e-5) << ops::act_name(act) << " " << be->name();
    }
  }
}

TEST(OpsGrad, Softmax) {
  const int64_t rows = 3, cols = 11;
  D x = randn(rows * cols, 11, 2.0), r = randn(rows * cols, 12);
  auto fwd = [&](const D& xx) {
    D y(rows * cols);
    ref::softmax<double>(xx.data(), y.data(), rows, cols);
    return dot(y, r);
  };
  const D gx = numeric_grad(x, fwd);
  D y(rows * cols), dx(rows * cols);
  ref::softmax<double>(x.data(), y.data(), rows, cols);
  ref::softmax_backward<double>(y.data(), r.data(), dx.data(), rows, cols);
  EXPECT_LT(rel_err(dx, gx), 1e-8);
  for (ops::Backend* be : backends()) {
    Tensor ty = Tensor::empty(DType::F32, {rows, cols}), tdx = Tensor::empty(DType::F32, {rows, cols});
    ops::softmax(*be, f32(x, {rows, cols}), ty);
    ops::softmax_backward(*be, ty, f32(r, {rows, cols}), tdx);
    EXPECT_LT(rel_err(to_d(tdx), gx), 1e-5) << be->name();
  }
}

TEST(OpsGrad, Attention) {
  const int64_t n = 2, t = 5, heads = 2, hd = 3, w = heads * hd;
  D q = randn(n * t * w, 13), k = randn(n * t * w, 14), v = randn(n * t * w, 15), r = randn(n * t * w, 16);
  std::vector<int32_t> mask(size_t(n * t), 1);
  mask[3] = 0;
  mask[t + 1] = 0;
  for (bool causal : {false, true}) {
    auto args_for = [&](const D& qq, const D& kk, const D& vv, D& out, D* probs) {
      ops::BasicAttentionArgs<double> a;
      a.batch = n, a.heads = heads, a.head_dim = hd, a.q_len = t, a.kv_len = t;
      a.q = qq.data(), a.k = kk.data(), a.v = vv.data(), a.out = out.data();
      a.q_row_stride = a.k_row_stride = a.v_row_stride = a.out_row_stride = w;
      a.q_batch_stride = a.k_batch_stride = a.v_batch_stride = a.out_batch_stride = t * w;
      a.scale = 1.0 / std::sqrt(double(hd));
      a.causal = causal;
      a.key_mask = mask.data();
      a.probs = probs ? probs->data() : nullptr;
      return a;
    };
    auto fwd = [&](const D& qq, const D& kk, const D& vv) {
      D out(n * t * w);
      ref::attention<double>(args_for(qq, kk, vv, out, nullptr));
      return dot(out, r);
    };
    const D gq = numeric_grad(q, [&](const D& x) { return fwd(x, k, v); });
    const D gk = numeric_grad(k, [&](const D& x) { return fwd(q, x, v); });
    const D gv = numeric_grad(v, [&](const D& x) { return fwd(q, k, x); });
    D out(n * t * w), probs(n * heads * t * t), dq(q.size()), dk(k.size()), dv(v.size());
    auto a = args_for(q, k, v, out, &probs);
    ref::attention<double>(a);
    a.out = r.data();  // dout addressing = out addressing
    ref::attention_backward<double>(a, {r.data(), dq.data(), dk.data(), dv.data()});
    EXPECT_LT(rel_err(dq, gq), 1e-7) << "causal=" << causal;
    EXPECT_LT(rel_err(dk, gk), 1e-7);
    EXPECT_LT(rel_err(dv, gv), 1e-7);
    for (ops::Backend* be : backends()) {
      Tensor tq = f32(q, {n, t, w}), tk = f32(k, {n, t, w}), tv = f32(v, {n, t, w});
      Tensor tout = Tensor::empty(DType::F32, {n, t, w}), tp = Tensor::empty(DType::F32, {n, heads, t, t});
      Tensor tmask = Tensor::empty(DType::I32, {n, t});
      std::copy(mask.begin(), mask.end(), tmask.data<int32_t>());
      ops::AttentionOptions o;
      o.heads = int(heads), o.causal = causal, o.key_mask = &tmask, o.probs = &tp;
      ops::attention(*be, tq, tk, tv, tout, o);
      Tensor tdq = Tensor::empty(DType::F32, {n, t, w}), tdk = tdq.clone(), tdv = tdq.clone();
      ops::attention_backward(*be, tq, tk, tv, o, f32(r, {n, t, w}), tdq, tdk, tdv);
      EXPECT_LT(rel_err(to_d(tdq), gq), 1e-5) << be->name();
      EXPECT_LT(rel_err(to_d(tdk), gk), 1e-5) << be->name();
      EXPECT_LT(rel_err(to_d(tdv), gv), 1e-5) << be->name();
    }
  }
}

TEST(OpsGrad, ContrastiveLoss) {
  const int64_t b = 4, e = 6;
  D img = randn(b * e, 17), txt = randn(b * e, 18);
  const double s = 1.3;
  auto loss = [&](const D& i, const D& t, double ls) {
    return ref::contrastive_loss<double>(i.data(), t.data(), b, e, ls, nullptr);
  };
  const D gi = numeric_grad(img, [&](const D& x) { return loss(x, txt, s); });
  const D gt = numeric_grad(txt, [&](const D& x) { return loss(img, x, s); });
  const double gs = (loss(img, txt, s + 1e-5) - loss(img, txt, s - 1e-5)) / 2e-5;
  D di(b * e), dt(b * e);
  double ds = 0;
  ref::contrastive_loss_backward<double>(img.data(), txt.data(), b, e, s, 1.0, di.data(), dt.data(), &ds);
  EXPECT_LT(rel_err(di, gi), 1e-7);
  EXPECT_LT(rel_err(dt, gt), 1e-7);
  EXPECT_NEAR(ds, gs, 1e-7 * std::fabs(gs));
  // Known value: identical unit features with zero temperature give log(B) for both directions.
  D same(b * e, 0.0);
  for (int64_t i = 0; i < b; ++i) same[i * e + i] = 1.0;
  // (logits = identity: each row has one 1 and three 0s, so CE = log(e + 3) - 1 both ways.)
  EXPECT_NEAR(loss(same, same, 0.0), std::log(std::exp(1.0) + 3.0) - 1.0, 1e-12);
  for (ops::Backend* be : backends()) {
    auto g = ops::contrastive_loss_backward(*be, f32(img, {b, e}), f32(txt, {b, e}), float(s));
    EXPECT_LT(rel_err(to_d(g.dimg), gi), 1e-5) << be->name();
    EXPECT_LT(rel_err(to_d(g.dtxt), gt), 1e-5) << be->name();
    EXPECT_NEAR(g.dlog_scale, gs, 1e-5 * std::fabs(gs));
    auto f = ops::contrastive_loss(*be, f32(img, {b, e}), f32(txt, {b, e}), float(s));
    EXPECT_NEAR(f.loss, loss(img, txt, s), 1e-6);
  }
}

}  // namespace
}  // namespace clipkit
