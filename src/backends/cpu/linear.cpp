// The cpu backend's linear layer, y = act(x W^T + bias) (+ y), for every weight precision (the
// contract, int8 recipe included, is at ops::Backend::linear).
//
// The output is cut into one block per pool thread (for_each_gemm_block); each thread runs its
// block's product with a single-threaded library call and applies the epilogue (activation) to
// the block at once, while it is still warm in its core's cache.
//  - F32 weights: oneDNN/OpenBLAS sgemm, the bias as the initial value of C (as torch.addmm).
//  - F16/BF16 weights: widened to float32 a panel of output rows at a time into per-thread scratch,
//    then the same sgemm; large batches widen the whole weight once per call instead, so the
//    library sees one big product.
//  - I8 weights: activations quantised per row (vectorised, byte-identical to the reference),
//    oneDNN's u8 x s8 -> s32 GEMM written straight into y's memory when y is not accumulated, then
//    dequantised in place.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/epilogue.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/vec_math.h"
#include "backends/ref/kernels.h"
#include "core/error.h"

namespace clipkit::cpu {

using ops::Act;

namespace {

// Row sums of an int8 weight, for the activation zero point: sum_k q[m,k] w[n,k] over the
// shifted q equals acc - z * wsum[n].
class PreparedInt8 : public ops::PreparedWeight {
 public:
  explicit PreparedInt8(const ops::WeightRef& w) : wsum(size_t(w.rows)) {
    const int8_t* q = static_cast<const int8_t*>(w.data);
    // Rows in parallel, each a contiguous run the compiler vectorises (model load time).
    parallel_for(w.rows, 64, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        const int8_t* row = q + n * w.row_stride;
        int32_t s = 0;
        if (w.col_stride == 1) {
          for (int64_t k = 0; k < w.cols; ++k) s += row[k];
        } else {
          for (int64_t k = 0; k < w.cols; ++k) s += row[k * w.col_stride];
        }
        wsum[size_t(n)] = s;
      }
    });
  }
  size_t bytes() const override { return wsum.size() * sizeof(int32_t); }
  std::vector<int32_t> wsum;
};

// Grow-only per-thread scratch: after the first call of a shape nothing is allocated.
template <typename T>
T* scratch(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// Widens rows [n0, n1) of a 16-bit weight [N, K] into out [n1 - n0, K] (contiguous).
void widen_rows(const ops::WeightRef& w, int64_t n0, int64_t n1, float* out) {
  const uint16_t* src = static_cast<const uint16_t*>(w.data);
  const int64_t k = w.cols;
  for (int64_t n = n0; n < n1; ++n) {
    float* dst = out + (n - n0) * k;
    const uint16_t* row = src + n * w.row_stride;
    if (w.col_stride == 1) {
      if (w.dtype == DType::F16) f16_to_f32_n(row, dst, k);
      else bf16_to_f32_n(row, dst, k);
    } else {
      for (int64_t i = 0; i < k; ++i) {
        const uint16_t h = row[i * w.col_stride];
        dst[i] = w.dtype == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
    }
  }
}

// Block [r0, r1) x [c0, c1) of a float32 product with its epilogue. `wt` is W^T [K, N] (a view).
void float_block(GemmLibrary lib, const ops::LinearArgs& a, const ops::Mat& wt, int64_t r0,
                 int64_t r1, int64_t c0, int64_t c1) {
  const int64_t rows = r1 - r0, cols = c1 - c0, k = wt.rows;
  float* y = a.y + r0 * a.ldy + c0;
  const ops::Mat xb{a.x + r0 * a.ldx, rows, k, a.ldx, 1};
  ops::Mat wb = wt;
  wb.data = wt.data + c0 * wt.col_stride;
  wb.cols = cols;
  const float* bias = a.bias ? a.bias + c0 : nullptr;
  if (!a.accumulate) {
    float beta = 0.0f;
    if (bias) {  // the bias is C's initial value, as torch.addmm computes nn.Linear
      for (int64_t r = 0; r < rows; ++r) std::memcpy(y + r * a.ldy, bias, size_t(cols) * sizeof(float));
      beta = 1.0f;
    }
    sgemm_serial(lib, xb, wb, y, a.ldy, 1.0f, beta);
    apply_activation(a.act, y, rows, cols, a.ldy);
    return;
  }
  if (a.act == Act::kIdentity) {  // the residual branch: y += x W^T, then + bias
    sgemm_serial(lib, xb, wb, y, a.ldy, 1.0f, 1.0f);
    if (bias)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) y[r * a.ldy + c] += bias[c];
    return;
  }
  // act with accumulate: the branch goes through scratch first.
  thread_local std::vector<float> tmp_v;
  float* tmp = scratch(tmp_v, size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    if (bias) std::memcpy(tmp + r * cols, bias, size_t(cols) * sizeof(float));
  }
  sgemm_serial(lib, xb, wb, tmp, cols, 1.0f, bias ? 1.0f : 0.0f);
  apply_activation(a.act, tmp, rows, cols, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * a.ldy + c] += tmp[r * cols + c];
}

// The weight as the W^T operand of a GEMM.
ops::Mat transposed_f32(const ops::WeightRef& w) {
  return ops::Mat{static_cast<const float*>(w.data), w.rows, w.cols, w.row_stride, w.col_stride}.t();
}

// The int8 activation quantisation of one row (ref::quantize_activation_row, byte for byte):
// min/max with eight lanes, then rint(x * inv) + z clamped to [0, 127]. The vector conversion
// rounds half to even under the default rounding mode, as nearbyint does.
void quantize_row_u7(const float* x, int64_t k, uint8_t* q, float* scale, int32_t* zero) {
  float lo = 0.0f, hi = 0.0f;
  int64_t i = 0;
#if defined(__AVX2__)
  __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
  for (; i + 8 <= k; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    // min_ps(a, b) is a < b ? a : b, so with the new value first a NaN keeps the old bound,
    // as the scalar loop below and the reference do.
    vlo = _mm256_min_ps(v, vlo);
    vhi = _mm256_max_ps(v, vhi);
  }
  alignas(32) float l8[8], h8[8];
  _mm256_store_ps(l8, vlo);
  _mm256_store_ps(h8, vhi);
  for (int j = 0; j < 8; ++j) {
    lo = l8[j] < lo ? l8[j] : lo;
    hi = h8[j] > hi ? h8[j] : hi;
  }
#endif
  for (; i < k; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  if (!(hi > lo)) {
    // NaN never wins the min/max above, so a row with NaN is quantised from its finite values in
    // both this kernel and the reference; a row of zeros lands here.
    std::memset(q, 0, size_t(k));
    *scale = 1.0f;
    *zero = 0;
    return;
  }
  const float inv = 127.0f / (hi - lo);
  *scale = (hi - lo) / 127.0f;
  const int32_t z = int32_t(std::nearbyint(-lo * inv));
  *zero = z;
  i = 0;
#if defined(__AVX2__)
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i vz = _mm256_set1_epi32(z), v0 = _mm256_setzero_si256(), v127 = _mm256_set1_epi32(127);
  for (; i + 8 <= k; i += 8) {
    __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, vz), v0), v127);
    // Eight int32 in [0, 127] to eight bytes: pack to int16 then to uint8 (no saturation can
    // occur), and gather the two 128-bit lanes' low 4 bytes.
    const __m128i lo16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i bytes = _mm_packus_epi16(lo16, lo16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), bytes);
  }
#endif
  for (; i < k; ++i) {
    int32_t v = int32_t(std::nearbyint(x[i] * inv)) + z;
    v = v < 0 ? 0 : (v > 127 ? 127 : v);
    q[i] = uint8_t(v);
  }
}

// The int32 product of column c back to float: (acc - z * wsum) * (sx * sw) + bias, the
// operations of the reference's int8 recipe (backends/ref/ref_linear.cpp) in its order.
inline float dequantise1(int32_t acc, int64_t c, int32_t z, float sx, const int32_t* wsum,
                         const float* sw, const float* bias) {
  const float v = float(acc - z * wsum[c]) * (sx * sw[c]);
  return bias ? v + bias[c] : v;
}

#if defined(__AVX2__)
// dequantise1 for columns [c, c + 8): the same float operations, eight lanes at a time.
inline __m256 dequantise8(const int32_t* acc, int64_t c, int32_t z, float sx, const int32_t* wsum,
                          const float* sw, const float* bias) {
  const __m256i iv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + c));
  const __m256i zw = _mm256_mullo_epi32(_mm256_set1_epi32(z),
                                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wsum + c)));
  const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(iv, zw)),
                                 _mm256_mul_ps(_mm256_set1_ps(sx), _mm256_loadu_ps(sw + c)));
  return bias ? _mm256_add_ps(v, _mm256_loadu_ps(bias + c)) : v;
}
#endif

// Rows of x per int8 quantisation task.
constexpr int64_t kQuantRowsPerTask = 8;
// Columns per widening panel of a 16-bit weight when the batch is small (the panel, 64 rows of W,
// stays in the core's L2 while the GEMM reads it).
constexpr int64_t kWidenPanel = 64;
// From this many rows on, a 16-bit weight is widened whole once per call.
constexpr int64_t kWidenWholeMinRows = 256;

}  // namespace

std::shared_ptr<const ops::PreparedWeight> CpuBackend::prepare_linear(const ops::WeightRef& w) {
  if (w.dtype == DType::I8) return std::make_shared<PreparedInt8>(w);
  return nullptr;
}

void CpuBackend::linear(const ops::LinearArgs& a) {
  const ops::WeightRef& w = a.w;
  const int64_t m = a.m, n = w.rows, k = w.cols;
  if (m == 0 || n == 0) return;
  switch (w.dtype) {
    case DType::F32: {
      const ops::Mat wt = transposed_f32(w);
      for_each_gemm_block(m, n, k, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
        float_block(lib_, a, wt, r0, r1, c0, c1);
      });
      return;
    }
    case DType::F16:
    case DType::BF16: {
      if (m >= kWidenWholeMinRows) {
        thread_local std::vector<float> whole_v;
        float* whole = scratch(whole_v, size_t(n * k));
        parallel_for(n, 16, [&](int64_t n0, int64_t n1) { widen_rows(w, n0, n1, whole + n0 * k); });
        ops::LinearArgs f = a;
        f.w = {whole, DType::F32, n, k, k, 1, nullptr};
        const ops::Mat wt = transposed_f32(f.w);
        for_each_gemm_block(m, n, k, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
          float_block(lib_, f, wt, r0, r1, c0, c1);
        });
        return;
      }
      for_each_gemm_block(m, n, k, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
        thread_local std::vector<float> panel_v;
        float* panel = scratch(panel_v, size_t(kWidenPanel * k));
        for (int64_t p0 = c0; p0 < c1; p0 += kWidenPanel) {
          const int64_t p1 = std::min(c1, p0 + kWidenPanel);
          widen_rows(w, p0, p1, panel);
          // The panel is rows [p0, p1) of W: a layer of its own whose outputs are columns
          // [p0, p1) of y.
          ops::LinearArgs f = a;
          f.w = {panel, DType::F32, p1 - p0, k, k, 1, nullptr};
          f.y = a.y + p0;
          f.bias = a.bias ? a.bias + p0 : nullptr;
          float_block(lib_, f, transposed_f32(f.w), r0, r1, 0, p1 - p0);
        }
      });
      return;
    }
    case DType::I8:
      break;
    default:
      fail("linear: weight dtype ", dtype_name(w.dtype), " is not supported");
  }

  // ---- int8 ----
  CLIPKIT_CHECK(w.scale != nullptr, "linear: int8 weight without per-row scales");
  CLIPKIT_CHECK(w.col_stride == 1, "linear: int8 weights need contiguous rows");
  std::shared_ptr<const ops::PreparedWeight> own;
  const PreparedInt8* prep = dynamic_cast<const PreparedInt8*>(a.prepared);
  if (!prep) {
    own = prepare_linear(w);
    prep = static_cast<const PreparedInt8*>(own.get());
  }
  thread_local std::vector<uint8_t> q_v;
  thread_local std::vector<float> sx_v;
  thread_local std::vector<int32_t> z_v, acc_v;
  uint8_t* q = scratch(q_v, size_t(m * k));
  float* sx = scratch(sx_v, size_t(m));
  int32_t* z = scratch(z_v, size_t(m));
  parallel_for(m, kQuantRowsPerTask, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) quantize_row_u7(a.x + r * a.ldx, k, q + r * k, &sx[r], &z[r]);
  });
  // The int32 products go into y itself when nothing there must be kept (same element size).
  const bool in_place = !a.accumulate;
  int32_t* acc = in_place ? reinterpret_cast<int32_t*>(a.y) : scratch(acc_v, size_t(m * n));
  const int64_t ldacc = in_place ? a.ldy : n;
  const int8_t* qw = static_cast<const int8_t*>(w.data);
  const int32_t* wsum = prep->wsum.data();
  for_each_gemm_block(m, n, k, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    igemm_u8s8_serial(q + r0 * k, k, qw + c0 * w.row_stride, w.row_stride, acc + r0 * ldacc + c0,
                      ldacc, r1 - r0, c1 - c0, k);
    for (int64_t r = r0; r < r1; ++r) {
      const int32_t* ar = acc + r * ldacc;
      float* yr = a.y + r * a.ldy;
      const float s = sx[r];
      const int32_t zr = z[r];
      if (!a.accumulate) {
        int64_t c = c0;
#if defined(__AVX2__)
        // In place: each 8 int32 are read before their 8 floats are written.
        for (; c + 8 <= c1; c += 8)
          _mm256_storeu_ps(yr + c, dequantise8(reinterpret_cast<const int32_t*>(yr), c, zr, s, wsum,
                                               w.scale, a.bias));
#endif
        for (; c < c1; ++c) {
          int32_t iv;  // read through memcpy: the int32 result shares its memory with yr[c]
          std::memcpy(&iv, yr + c, sizeof iv);
          yr[c] = dequantise1(iv, c, zr, s, wsum, w.scale, a.bias);
        }
        apply_activation(a.act, yr + c0, 1, c1 - c0, 0);
      } else if (a.act == Act::kIdentity) {  // the residual branch: y += dequantised + bias
        int64_t c = c0;
#if defined(__AVX2__)
        for (; c + 8 <= c1; c += 8)
          _mm256_storeu_ps(yr + c, _mm256_add_ps(_mm256_loadu_ps(yr + c),
                                                 dequantise8(ar, c, zr, s, wsum, w.scale, a.bias)));
#endif
        for (; c < c1; ++c) yr[c] += dequantise1(ar[c], c, zr, s, wsum, w.scale, a.bias);
      } else {
        for (int64_t c = c0; c < c1; ++c)
          yr[c] += ref::activation_value<float>(a.act, dequantise1(ar[c], c, zr, s, wsum, w.scale, a.bias));
      }
    }
  });
}

}  // namespace clipkit::cpu
