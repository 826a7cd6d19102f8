#include "backends/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/parallel.h"
#include "backends/cpu/vec_math.h"
#include "backends/ref/kernels.h"

namespace clipkit::cpu {

using ops::Act;

void CpuBackend::gemm(const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc, float alpha,
                      float beta, const float* bias) {
  sgemm(lib_, a, b, c, ldc, alpha, beta, bias);
}

void CpuBackend::col_sum(const float* x, int64_t rows, int64_t cols, int64_t ldx, float* out,
                         bool accumulate) {
  parallel_for(cols, 64, [&](int64_t c0, int64_t c1) {
    if (!accumulate) std::fill(out + c0, out + c1, 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * ldx;
      for (int64_t c = c0; c < c1; ++c) out[c] += row[c];
    }
  });
}

namespace {

// LayerNorm of one row of n floats, by the corrected two-pass algorithm (Chan, Golub & LeVeque):
//   m0   = sum_c x / n                              (pass 1)
//   e    = sum_c (x - m0),  q = sum_c (x - m0)^2     (pass 2, one read)
//   mean = m0 + e/n,        var = (q - e^2/n) / n
//   y    = ((x - m0) - e/n) * rstd * gamma + beta,   rstd = 1 / sqrt(var + eps)   (pass 3)
// e/n is the rounding error of m0. Keeping the mean as the pair m0 + e/n (never rounded to one
// float) keeps x - mean, the variance and y accurate relative to the row's spread even when its
// mean is far larger (a float mean of 1000 is itself off by up to 3e-5); a one-pass sum of squares
// would lose the variance to cancellation. The row is in L1 after pass 1.
void layernorm_row(const float* x, int64_t n, const float* gamma, const float* beta, float eps,
                   float* y, float* mean_out, float* rstd_out) {
  const float m0 = sum_f(x, n) / float(n);
  const v8f m0v = splat8(m0);
  v8f e0 = {}, e1 = {}, q0 = {}, q1 = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const v8f d0 = load8(x + i) - m0v, d1 = load8(x + i + 8) - m0v;
    e0 += d0;
    e1 += d1;
    q0 += d0 * d0;
    q1 += d1 * d1;
  }
  for (; i + 8 <= n; i += 8) {
    const v8f d0 = load8(x + i) - m0v;
    e0 += d0;
    q0 += d0 * d0;
  }
  float e = hsum8(e0 + e1), q = hsum8(q0 + q1);
  for (; i < n; ++i) {
    const float d = x[i] - m0;
    e += d;
    q += d * d;
  }
  const float correction = e / float(n);
  const float var = max_f((q - e * correction) / float(n), 0.0f);
  const float rstd = 1.0f / std::sqrt(var + eps);
  const v8f cv = splat8(correction), rstdv = splat8(rstd);
  i = 0;
  for (; i + 8 <= n; i += 8)
    store8(y + i, ((load8(x + i) - m0v) - cv) * rstdv * load8(gamma + i) + load8(beta + i));
  for (; i < n; ++i) y[i] = ((x[i] - m0) - correction) * rstd * gamma[i] + beta[i];
  if (mean_out) *mean_out = m0 + correction;
  if (rstd_out) *rstd_out = rstd;
}

}  // namespace

void CpuBackend::layernorm(const float* x, int64_t rows, int64_t cols, int64_t ldx,
                           const float* gamma, const float* beta, float eps, float* y, int64_t ldy,
                           float* mean_out, float* rstd_out) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      layernorm_row(x + r * ldx, cols, gamma, beta, eps, y + r * ldy,
                    mean_out ? mean_out + r : nullptr, rstd_out ? rstd_out + r : nullptr);
  });
}

void CpuBackend::batchnorm(const float* x, int64_t rows, int64_t channels, int64_t ldx,
                           const float* mean, const float* var, const float* gamma,
                           const float* beta, float eps, bool relu, float* y, int64_t ldy) {
  // Per-channel scale and shift once, then one fused multiply-add per element.
  thread_local std::vector<float> scale_shift;
  scale_shift.resize(size_t(2 * channels));
  float* scale = scale_shift.data();
  float* shift = scale + channels;
  for (int64_t c = 0; c < channels; ++c) {
    scale[c] = gamma[c] / std::sqrt(var[c] + eps);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  parallel_for(rows, row_grain(channels), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * ldx;
      float* yr = y + r * ldy;
      if (relu) {
        for (int64_t c = 0; c < channels; ++c) yr[c] = max_f(xr[c] * scale[c] + shift[c], 0.0f);
      } else {
        for (int64_t c = 0; c < channels; ++c) yr[c] = xr[c] * scale[c] + shift[c];
      }
    }
  });
}

void CpuBackend::l2_normalize(const float* x, int64_t rows, int64_t cols, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float inv = 1.0f / std::sqrt(dot_f(xr, xr, cols));
    float* yr = y + r * cols;
    for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] * inv;
  }
}

void CpuBackend::activation(Act act, const float* x, float* y, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    switch (act) {
      case Act::kIdentity:
        if (y != x) std::copy(x + b, x + e, y + b);
        break;
      case Act::kRelu:
        map8(x + b, y + b, e - b, [](v8f v) { return max8(v, v8f{}); });
        break;
      case Act::kQuickGelu:
        quick_gelu_n(x + b, y + b, e - b);
        break;
      case Act::kGelu:
        gelu_n(x + b, y + b, e - b);
        break;
    }
  });
}

void CpuBackend::activation_backward(Act act, const float* x, const float* dy, float* dx,
                                     int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = dy[i] * ref::activation_derivative<float>(act, x[i]);
  });
}

void CpuBackend::add(const float* a, const float* b, float* y, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) y[i] = a[i] + b[i];
  });
}

namespace {
// In-place softmax of one row: y = exp(x - max) / sum.
inline void softmax_row(float* s, int64_t n) {
  if (n <= 0) return;
  const float mx = max_of(s, n);
  map8(s, s, n, [mx](v8f v) { return exp8(v - mx); });
  const float inv = 1.0f / sum_f(s, n);
  map8(s, s, n, [inv](v8f v) { return v * inv; });
}
}  // namespace

void CpuBackend::softmax(const float* x, float* y, int64_t rows, int64_t cols) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      if (y != x) std::copy(x + r * cols, x + (r + 1) * cols, y + r * cols);
      softmax_row(y + r * cols, cols);
    }
  });
}

void CpuBackend::softmax_backward(const float* y, const float* dy, float* dx, int64_t rows,
                                  int64_t cols) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* yr = y + r * cols;
      const float* dyr = dy + r * cols;
      const float dot = dot_f(yr, dyr, cols);
      float* dxr = dx + r * cols;
      for (int64_t c = 0; c < cols; ++c) dxr[c] = yr[c] * (dyr[c] - dot);
    }
  });
}

void CpuBackend::im2col(const ops::Im2ColArgs& a) {
  const int64_t oh = a.out_h(), ow = a.out_w(), cols = a.c * a.kh * a.kw, taps = a.kh * a.kw;
  // Channels-last input: walk the taps outside and copy each pixel's contiguous channel vector
  // (a long unit-stride read); otherwise walk channels outside and the taps inside.
  const bool channels_last = a.stride_c == 1 && a.c > 1;
  parallel_for(a.n * oh, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, ow * cols)),
               [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / oh, oy = r % oh;
      const float* xn = a.x + n * a.stride_n;
      for (int64_t ox = 0; ox < ow; ++ox) {
        float* row = a.out + (r * ow + ox) * cols;
        for (int64_t ky = 0; ky < a.kh; ++ky) {
          const int64_t iy = oy * a.stride - a.pad + ky;
          for (int64_t kx = 0; kx < a.kw; ++kx) {
            const int64_t ix = ox * a.stride - a.pad + kx;
            const bool inside = iy >= 0 && iy < a.h && ix >= 0 && ix < a.w;
            float* dst = row + ky * a.kw + kx;
            if (!inside) {
              for (int64_t c = 0; c < a.c; ++c) dst[c * taps] = 0.0f;
            } else if (channels_last) {
              const float* src = xn + iy * a.stride_h + ix * a.stride_w;
              for (int64_t c = 0; c < a.c; ++c) dst[c * taps] = src[c];
            } else {
              const float* src = xn + iy * a.stride_h + ix * a.stride_w;
              for (int64_t c = 0; c < a.c; ++c) dst[c * taps] = src[c * a.stride_c];
            }
          }
        }
      }
    }
  });
}

void CpuBackend::avgpool_nhwc(const float* x, int64_t n, int64_t h, int64_t w, int64_t c,
                              int64_t k, float* y) {
  const int64_t oh = h / k, ow = w / k;
  const float inv = 1.0f / float(k * k);
  parallel_for(n * oh, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / oh, oy = r % oh;
      for (int64_t ox = 0; ox < ow; ++ox) {
        float* out = y + (r * ow + ox) * c;
        std::fill(out, out + c, 0.0f);
        for (int64_t ky = 0; ky < k; ++ky)
          for (int64_t kx = 0; kx < k; ++kx) {
            const float* in = x + ((b * h + oy * k + ky) * w + ox * k + kx) * c;
            for (int64_t ch = 0; ch < c; ++ch) out[ch] += in[ch];
          }
        for (int64_t ch = 0; ch < c; ++ch) out[ch] *= inv;
      }
    }
  });
}

CpuBackend& cpu_backend(GemmLibrary lib) {
  static CpuBackend onednn(GemmLibrary::kOneDnn);
  static CpuBackend openblas(GemmLibrary::kOpenBlas);
  return lib == GemmLibrary::kOneDnn ? onednn : openblas;
}

}  // namespace clipkit::cpu
