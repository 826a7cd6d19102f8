// The reference linear layer (the contract is documented at ops::Backend::linear): float weights
// of any stored precision accumulate in float64; int8 weights follow the integer recipe exactly,
// so a fast backend's int8 kernel must agree with this one bit for bit before its epilogue.
#include <cmath>
#include <cstring>
#include <vector>

#include "backends/ref/kernels.h"
#include "backends/ref/ref_backend.h"
#include "core/error.h"

namespace clipkit::ref {

namespace {

double weight_at(const ops::WeightRef& w, int64_t n, int64_t k) {
  const int64_t i = n * w.row_stride + k * w.col_stride;
  switch (w.dtype) {
    case DType::F32: return static_cast<const float*>(w.data)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(w.data)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(w.data)[i]);
    default: break;
  }
  fail("linear: weight dtype ", dtype_name(w.dtype), " is not a float type");
}

void store(const ops::LinearArgs& a, int64_t m, int64_t n, float v) {
  float& out = a.y[m * a.ldy + n];
  v = activation_value<float>(a.act, v);
  out = a.accumulate ? out + v : v;
}

}  // namespace

void quantize_activation_row(const float* x, int64_t k, uint8_t* q, float* scale, int32_t* zero) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  if (!(hi > lo)) {  // all zero (or NaN, which has no meaningful quantisation either)
    std::memset(q, 0, size_t(k));
    *scale = 1.0f;
    *zero = 0;
    return;
  }
  const float inv = 127.0f / (hi - lo);
  *scale = (hi - lo) / 127.0f;
  const int32_t z = int32_t(std::nearbyint(-lo * inv));
  *zero = z;
  for (int64_t i = 0; i < k; ++i) {
    int32_t v = int32_t(std::nearbyint(x[i] * inv)) + z;
    v = v < 0 ? 0 : (v > 127 ? 127 : v);
    q[i] = uint8_t(v);
  }
}

void RefBackend::linear(const ops::LinearArgs& a) {
  const ops::WeightRef& w = a.w;
  const int64_t n_out = w.rows, k = w.cols;
  if (w.dtype != DType::I8) {
    for (int64_t m = 0; m < a.m; ++m) {
      const float* xr = a.x + m * a.ldx;
      for (int64_t n = 0; n < n_out; ++n) {
        double acc = 0.0;
        for (int64_t i = 0; i < k; ++i) acc += double(xr[i]) * weight_at(w, n, i);
        if (a.bias) acc += double(a.bias[n]);
        store(a, m, n, float(acc));
      }
    }
    return;
  }
  CLIPKIT_CHECK(w.scale != nullptr, "linear: int8 weight without per-row scales");
  const int8_t* qw = static_cast<const int8_t*>(w.data);
  std::vector<int32_t> wsum(size_t(n_out), 0);
  for (int64_t n = 0; n < n_out; ++n)
    for (int64_t i = 0; i < k; ++i) wsum[n] += qw[n * w.row_stride + i * w.col_stride];
  std::vector<uint8_t> q(static_cast<size_t>(k));
  for (int64_t m = 0; m < a.m; ++m) {
    float sx;
    int32_t z;
    quantize_activation_row(a.x + m * a.ldx, k, q.data(), &sx, &z);
    for (int64_t n = 0; n < n_out; ++n) {
      int32_t acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += int32_t(q[i]) * int32_t(qw[n * w.row_stride + i * w.col_stride]);
      float v = float(acc - z * wsum[n]) * (sx * w.scale[n]);
      if (a.bias) v = v + a.bias[n];
      store(a, m, n, v);
    }
  }
}

}  // namespace clipkit::ref
