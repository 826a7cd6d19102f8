#include "backends/ref/kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace clipkit::ref {

template <typename T>
void gemm(const ops::BasicMat<T>& a, const ops::BasicMat<T>& b, T* c, int64_t ldc, T alpha, T beta,
          const T* bias) {
  for (int64_t i = 0; i < a.rows; ++i) {
    for (int64_t j = 0; j < b.cols; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < a.cols; ++k) acc += double(a.at(i, k)) * double(b.at(k, j));
      double r = double(alpha) * acc;
      // beta == 0 must not read c: it may hold garbage (BLAS semantics).
      if (beta != T(0)) r += double(beta) * double(c[i * ldc + j]);
      if (bias) r += double(bias[j]);
      c[i * ldc + j] = T(r);
    }
  }
}

template <typename T>
void col_sum(const T* x, int64_t rows, int64_t cols, int64_t ldx, T* out, bool accumulate) {
  for (int64_t j = 0; j < cols; ++j) {
    double acc = accumulate ? double(out[j]) : 0.0;
    for (int64_t i = 0; i < rows; ++i) acc += double(x[i * ldx + j]);
    out[j] = T(acc);
  }
}

template <typename T>
void layernorm(const T* x, int64_t rows, int64_t cols, int64_t ldx, const T* gamma, const T* beta,
               T eps, T* y, int64_t ldy, T* mean_out, T* rstd_out) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * ldx;
    double mean = 0;
    for (int64_t c = 0; c < cols; ++c) mean += double(xr[c]);
    mean /= double(cols);
    double var = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const double d = double(xr[c]) - mean;
      var += d * d;
    }
    var /= double(cols);
    const double rstd = 1.0 / std::sqrt(var + double(eps));
    T* yr = y + r * ldy;
    for (int64_t c = 0; c < cols; ++c)
      yr[c] = T((double(xr[c]) - mean) * rstd * double(gamma[c]) + double(beta[c]));
    if (mean_out) mean_out[r] = T(mean);
    if (rstd_out) rstd_out[r] = T(rstd);
  }
}

template <typename T>
void layernorm_backward(const T* x, const T* dy, int64_t rows, int64_t cols, const T* gamma,
                        const T* mean, const T* rstd, T* dx, T* dgamma, T* dbeta) {
  std::vector<double> dgamma_acc(size_t(cols), 0.0), dbeta_acc(size_t(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* dyr = dy + r * cols;
    const double m = double(mean[r]), s = double(rstd[r]);
    double mean_g = 0, mean_gx = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const double xhat = (double(xr[c]) - m) * s;
      const double g = double(dyr[c]) * double(gamma[c]);
      mean_g += g;
      mean_gx += g * xhat;
      dgamma_acc[c] += double(dyr[c]) * xhat;
      dbeta_acc[c] += double(dyr[c]);
    }
    mean_g /= double(cols);
    mean_gx /= double(cols);
    for (int64_t c = 0; c < cols; ++c) {
      const double xhat = (double(xr[c]) - m) * s;
      const double g = double(dyr[c]) * double(gamma[c]);
      dx[r * cols + c] = T(s * (g - mean_g - xhat * mean_gx));
    }
  }
  for (int64_t c = 0; c < cols; ++c) {
    if (dgamma) dgamma[c] = T(double(dgamma[c]) + dgamma_acc[c]);
    if (dbeta) dbeta[c] = T(double(dbeta[c]) + dbeta_acc[c]);
  }
}

template <typename T>
void batchnorm(const T* x, int64_t rows, int64_t channels, int64_t ldx, const T* mean, const T* var,
               const T* gamma, const T* beta, T eps, bool relu, T* y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < channels; ++c) {
      double v = (double(x[r * ldx + c]) - double(mean[c])) / std::sqrt(double(var[c]) + double(eps)) *
                     double(gamma[c]) +
                 double(beta[c]);
      if (relu && v < 0) v = 0;
      y[r * ldy + c] = T(v);
    }
  }
}

template <typename T>
void l2_normalize(const T* x, int64_t rows, int64_t cols, T* y) {
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t c = 0; c < cols; ++c) ss += double(x[r * cols + c]) * double(x[r * cols + c]);
    const double norm = std::sqrt(ss);
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = T(double(x[r * cols + c]) / norm);
  }
}

template <typename T>
T activation_value(Act act, T x) {
  const double v = double(x);
  switch (act) {
    case Act::kIdentity: return x;
    case Act::kRelu: return x > T(0) ? x : T(0);
    case Act::kQuickGelu: return T(v / (1.0 + std::exp(-1.702 * v)));
    case Act::kGelu: return T(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
  }
  return x;
}

template <typename T>
T activation_derivative(Act act, T x) {
  const double v = double(x);
  switch (act) {
    case Act::kIdentity: return T(1);
    case Act::kRelu: return x > T(0) ? T(1) : T(0);
    case Act::kQuickGelu: {
      const double s = 1.0 / (1.0 + std::exp(-1.702 * v));
      return T(s + 1.702 * v * s * (1.0 - s));
    }
    case Act::kGelu: {
      const double cdf = 0.5 * (1.0 + std::erf(v / std::sqrt(2.0)));
      const double pdf = std::exp(-0.5 * v * v) / std::sqrt(2.0 * M_PI);
      return T(cdf + v * pdf);
    }
  }
  return T(1);
}

template <typename T>
void activation(Act act, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = activation_value(act, x[i]);
}

template <typename T>
void activation_backward(Act act, const T* x, const T* dy, T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = T(double(dy[i]) * double(activation_derivative(act, x[i])));
}

template <typename T>
void add(const T* a, const T* b, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <typename T>
void softmax(const T* x, T* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, double(xr[c]));
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(double(xr[c]) - mx);
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = T(std::exp(double(xr[c]) - mx) / sum);
  }
}

template <typename T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    double dot = 0;
    for (int64_t c = 0; c < cols; ++c) dot += double(dy[r * cols + c]) * double(y[r * cols + c]);
    for (int64_t c = 0; c < cols; ++c)
      dx[r * cols + c] = T(double(y[r * cols + c]) * (double(dy[r * cols + c]) - dot));
  }
}

namespace {

template <typename T>
bool key_allowed(const ops::BasicAttentionArgs<T>& a, int64_t n, int64_t i, int64_t j) {
  if (a.causal && j > i) return false;
  if (a.key_mask && a.key_mask[n * a.kv_len + j] == 0) return false;
  return true;
}

// Probabilities of query i of (n, h) into p[kv_len] (float64); false when no key is allowed.
template <typename T>
bool attention_probs(const ops::BasicAttentionArgs<T>& a, int64_t n, int64_t h, int64_t i,
                     std::vector<double>& p) {
  const T* q = a.q + n * a.q_batch_stride + i * a.q_row_stride + h * a.head_dim;
  double mx = -std::numeric_limits<double>::infinity();
  bool any = false;
  for (int64_t j = 0; j < a.kv_len; ++j) {
    if (!key_allowed(a, n, i, j)) {
      p[j] = -std::numeric_limits<double>::infinity();
      continue;
    }
    const T* k = a.k + n * a.k_batch_stride + j * a.k_row_stride + h * a.head_dim;
    double s = 0;
    for (int64_t d = 0; d < a.head_dim; ++d) s += double(q[d]) * double(k[d]);
    p[j] = s * double(a.scale);
    mx = std::max(mx, p[j]);
    any = true;
  }
  if (!any) {
    std::fill(p.begin(), p.end(), 0.0);
    return false;
  }
  double sum = 0;
  for (int64_t j = 0; j < a.kv_len; ++j) {
    p[j] = std::isinf(p[j]) && p[j] < 0 ? 0.0 : std::exp(p[j] - mx);
    sum += p[j];
  }
  for (int64_t j = 0; j < a.kv_len; ++j) p[j] /= sum;
  return true;
}

}  // namespace

template <typename T>
void attention(const ops::BasicAttentionArgs<T>& a) {
  std::vector<double> p(size_t(a.kv_len));
  for (int64_t n = 0; n < a.batch; ++n) {
    for (int64_t h = 0; h < a.heads; ++h) {
      for (int64_t i = 0; i < a.q_len; ++i) {
        attention_probs(a, n, h, i, p);
        if (a.probs) {
          T* pr = a.probs + ((n * a.heads + h) * a.q_len + i) * a.kv_len;
          for (int64_t j = 0; j < a.kv_len; ++j) pr[j] = T(p[j]);
        }
        T* o = a.out + n * a.out_batch_stride + i * a.out_row_stride + h * a.head_dim;
        for (int64_t d = 0; d < a.head_dim; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < a.kv_len; ++j) {
            if (p[j] == 0.0) continue;
            acc += p[j] * double(a.v[n * a.v_batch_stride + j * a.v_row_stride + h * a.head_dim + d]);
          }
          o[d] = T(acc);
        }
      }
    }
  }
}

template <typename T>
void attention_backward(const ops::BasicAttentionArgs<T>& a, const ops::BasicAttentionGrads<T>& g) {
  const int64_t hd = a.head_dim;
  auto qp = [&](auto* base, int64_t bs, int64_t rs, int64_t n, int64_t t, int64_t h) {
    return base + n * bs + t * rs + h * hd;
  };
  // Zero the gradients (their rows may be interleaved in fused buffers, so zero head by head).
  for (int64_t n = 0; n < a.batch; ++n)
    for (int64_t h = 0; h < a.heads; ++h) {
      for (int64_t i = 0; i < a.q_len; ++i)
        std::fill_n(qp(g.dq, a.q_batch_stride, a.q_row_stride, n, i, h), hd, T(0));
      for (int64_t j = 0; j < a.kv_len; ++j) {
        std::fill_n(qp(g.dk, a.k_batch_stride, a.k_row_stride, n, j, h), hd, T(0));
        std::fill_n(qp(g.dv, a.v_batch_stride, a.v_row_stride, n, j, h), hd, T(0));
      }
    }
  std::vector<double> dp(size_t(a.kv_len));
  for (int64_t n = 0; n < a.batch; ++n) {
    for (int64_t h = 0; h < a.heads; ++h) {
      for (int64_t i = 0; i < a.q_len; ++i) {
        const T* p = a.probs + ((n * a.heads + h) * a.q_len + i) * a.kv_len;
        const T* dout = qp(g.dout, a.out_batch_stride, a.out_row_stride, n, i, h);
        const T* q = qp(a.q, a.q_batch_stride, a.q_row_stride, n, i, h);
        T* dq = qp(g.dq, a.q_batch_stride, a.q_row_stride, n, i, h);
        double dot = 0;
        for (int64_t j = 0; j < a.kv_len; ++j) {
          const T* v = qp(a.v, a.v_batch_stride, a.v_row_stride, n, j, h);
          double s = 0;
          for (int64_t d = 0; d < hd; ++d) s += double(dout[d]) * double(v[d]);
          dp[j] = s;
          dot += s * double(p[j]);
        }
        for (int64_t j = 0; j < a.kv_len; ++j) {
          const double pj = double(p[j]);
          if (pj == 0.0) continue;
          const double ds = pj * (dp[j] - dot) * double(a.scale);
          const T* k = qp(a.k, a.k_batch_stride, a.k_row_stride, n, j, h);
          T* dk = qp(g.dk, a.k_batch_stride, a.k_row_stride, n, j, h);
          T* dv = qp(g.dv, a.v_batch_stride, a.v_row_stride, n, j, h);
          for (int64_t d = 0; d < hd; ++d) {
            dq[d] = T(double(dq[d]) + ds * double(k[d]));
            dk[d] = T(double(dk[d]) + ds * double(q[d]));
            dv[d] = T(double(dv[d]) + pj * double(dout[d]));
          }
        }
      }
    }
  }
}

template <typename T>
void im2col(const ops::BasicIm2ColArgs<T>& a) {
  const int64_t oh = a.out_h(), ow = a.out_w();
  const int64_t cols = a.c * a.kh * a.kw;
  for (int64_t n = 0; n < a.n; ++n)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        T* row = a.out + ((n * oh + oy) * ow + ox) * cols;
        for (int64_t c = 0; c < a.c; ++c)
          for (int64_t ky = 0; ky < a.kh; ++ky)
            for (int64_t kx = 0; kx < a.kw; ++kx) {
              const int64_t iy = oy * a.stride - a.pad + ky, ix = ox * a.stride - a.pad + kx;
              const bool inside = iy >= 0 && iy < a.h && ix >= 0 && ix < a.w;
              row[(c * a.kh + ky) * a.kw + kx] =
                  inside ? a.x[n * a.stride_n + c * a.stride_c + iy * a.stride_h + ix * a.stride_w]
                         : T(0);
            }
      }
}

template <typename T>
void avgpool_nhwc(const T* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, T* y) {
  const int64_t oh = h / k, ow = w / k;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t ch = 0; ch < c; ++ch) {
          double acc = 0;
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx)
              acc += double(x[((b * h + oy * k + ky) * w + ox * k + kx) * c + ch]);
          y[((b * oh + oy) * ow + ox) * c + ch] = T(acc / double(k * k));
        }
}

namespace {

// Normalised rows u = x / |x| in float64, and the norms.
void normalise_rows(const double* x, int64_t b, int64_t e, std::vector<double>& u,
                    std::vector<double>& norms) {
  u.assign(size_t(b * e), 0.0);
  norms.assign(size_t(b), 0.0);
  for (int64_t i = 0; i < b; ++i) {
    double ss = 0;
    for (int64_t c = 0; c < e; ++c) ss += x[i * e + c] * x[i * e + c];
    norms[i] = std::sqrt(ss);
    for (int64_t c = 0; c < e; ++c) u[i * e + c] = x[i * e + c] / norms[i];
  }
}

struct ContrastiveState {
  std::vector<double> u, w, nu, nw, logits, p_row, p_col;
  double loss = 0;
};

template <typename T>
ContrastiveState contrastive_forward(const T* img, const T* txt, int64_t b, int64_t e, T log_scale) {
  ContrastiveState s;
  std::vector<double> xi(img, img + b * e), xt(txt, txt + b * e);
  normalise_rows(xi.data(), b, e, s.u, s.nu);
  normalise_rows(xt.data(), b, e, s.w, s.nw);
  const double scale = std::exp(double(log_scale));
  s.logits.assign(size_t(b * b), 0.0);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < b; ++j) {
      double d = 0;
      for (int64_t c = 0; c < e; ++c) d += s.u[i * e + c] * s.w[j * e + c];
      s.logits[i * b + j] = scale * d;
    }
  // Row softmax (image -> text) and column softmax (text -> image), with their CE terms.
  s.p_row.assign(size_t(b * b), 0.0);
  s.p_col.assign(size_t(b * b), 0.0);
  double ce_row = 0, ce_col = 0;
  for (int64_t i = 0; i < b; ++i) {
    double mr = -std::numeric_limits<double>::infinity(), mc = mr;
    for (int64_t j = 0; j < b; ++j) {
      mr = std::max(mr, s.logits[i * b + j]);
      mc = std::max(mc, s.logits[j * b + i]);
    }
    double sr = 0, sc = 0;
    for (int64_t j = 0; j < b; ++j) {
      sr += std::exp(s.logits[i * b + j] - mr);
      sc += std::exp(s.logits[j * b + i] - mc);
    }
    for (int64_t j = 0; j < b; ++j) {
      s.p_row[i * b + j] = std::exp(s.logits[i * b + j] - mr) / sr;
      s.p_col[j * b + i] = std::exp(s.logits[j * b + i] - mc) / sc;
    }
    ce_row += -(s.logits[i * b + i] - mr - std::log(sr));
    ce_col += -(s.logits[i * b + i] - mc - std::log(sc));
  }
  s.loss = (ce_row / double(b) + ce_col / double(b)) / 2.0;
  return s;
}

}  // namespace

template <typename T>
double contrastive_loss(const T* img, const T* txt, int64_t b, int64_t e, T log_scale, T* logits) {
  ContrastiveState s = contrastive_forward(img, txt, b, e, log_scale);
  if (logits)
    for (int64_t i = 0; i < b * b; ++i) logits[i] = T(s.logits[i]);
  return s.loss;
}

template <typename T>
void contrastive_loss_backward(const T* img, const T* txt, int64_t b, int64_t e, T log_scale,
                               double dloss, T* dimg, T* dtxt, T* dlog_scale) {
  ContrastiveState s = contrastive_forward(img, txt, b, e, log_scale);
  const double scale = std::exp(double(log_scale));
  std::vector<double> dl(size_t(b * b));
  double ds = 0;
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < b; ++j) {
      const double eye = i == j ? 1.0 : 0.0;
      dl[i * b + j] = dloss * ((s.p_row[i * b + j] - eye) + (s.p_col[i * b + j] - eye)) / (2.0 * double(b));
      ds += dl[i * b + j] * s.logits[i * b + j];
    }
  if (dlog_scale) *dlog_scale = T(ds);
  // du = scale * dL w; dw = scale * dL^T u; then through the normalisation.
  auto through_norm = [&](const std::vector<double>& unit, const std::vector<double>& norms,
                          const std::vector<double>& other, bool transpose, T* out) {
    std::vector<double> du(static_cast<size_t>(e));
    for (int64_t i = 0; i < b; ++i) {
      for (int64_t c = 0; c < e; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < b; ++j)
          acc += (transpose ? dl[j * b + i] : dl[i * b + j]) * other[j * e + c];
        du[c] = scale * acc;
      }
      double dot = 0;
      for (int64_t c = 0; c < e; ++c) dot += unit[i * e + c] * du[c];
      for (int64_t c = 0; c < e; ++c) out[i * e + c] = T((du[c] - unit[i * e + c] * dot) / norms[i]);
    }
  };
  if (dimg) through_norm(s.u, s.nu, s.w, false, dimg);
  if (dtxt) through_norm(s.w, s.nw, s.u, true, dtxt);
}

// Explicit instantiations: float for RefBackend, double for gradient checks and float64 goldens.
#define CLIPKIT_REF_INSTANTIATE(T)                                                                   \
  template void gemm<T>(const ops::BasicMat<T>&, const ops::BasicMat<T>&, T*, int64_t, T, T,       \
                        const T*);                                                                   \
  template void col_sum<T>(const T*, int64_t, int64_t, int64_t, T*, bool);                         \
  template void layernorm<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*, T, T*,       \
                             int64_t, T*, T*);                                                       \
  template void layernorm_backward<T>(const T*, const T*, int64_t, int64_t, const T*, const T*,    \
                                      const T*, T*, T*, T*);                                        \
  template void batchnorm<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*, const T*,    \
                             const T*, T, bool, T*, int64_t);                                       \
  template void l2_normalize<T>(const T*, int64_t, int64_t, T*);                                   \
  template T activation_value<T>(Act, T);                                                           \
  template T activation_derivative<T>(Act, T);                                                      \
  template void activation<T>(Act, const T*, T*, int64_t);                                          \
  template void activation_backward<T>(Act, const T*, const T*, T*, int64_t);                       \
  template void add<T>(const T*, const T*, T*, int64_t);                                            \
  template void softmax<T>(const T*, T*, int64_t, int64_t);                                         \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t);                      \
  template void attention<T>(const ops::BasicAttentionArgs<T>&);                                    \
  template void attention_backward<T>(const ops::BasicAttentionArgs<T>&,                            \
                                      const ops::BasicAttentionGrads<T>&);                          \
  template void im2col<T>(const ops::BasicIm2ColArgs<T>&);                                          \
  template void avgpool_nhwc<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, T*);         \
  template double contrastive_loss<T>(const T*, const T*, int64_t, int64_t, T, T*);                 \
  template void contrastive_loss_backward<T>(const T*, const T*, int64_t, int64_t, T, double, T*,  \
                                             T*, T*);

CLIPKIT_REF_INSTANTIATE(float)
CLIPKIT_REF_INSTANTIATE(double)

}  // namespace clipkit::ref
