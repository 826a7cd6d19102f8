// Vectorised float32 math for the cpu kernels (std::exp is a library call per element). exp8
// follows Cephes' expf: range reduction x = n ln2 + r with ln2 split in two parts, a degree-6
// polynomial for e^r on |r| <= ln2/2 and the exponent built from bits; its error is within 2 ulp
// of the correctly rounded result on [-87.3, 88.7], and it returns 0 below.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "core/dtype.h"

namespace clipkit::cpu {

// max/min written as selects: std::fmax/fmin are library calls (NaN rules) that stop vectorisation.
inline float max_f(float a, float b) { return a > b ? a : b; }
inline float min_f(float a, float b) { return a < b ? a : b; }

// Eight floats as a GCC/Clang generic vector: compiled to AVX2 (or two SSE halves, or scalar
// code) directly, independent of the auto-vectoriser, which refuses the clamps and selects of exp
// under the default trapping floating-point semantics.
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

inline v8f exp8(v8f x) {
  const v8f lo = v8f{} - 87.33654f, hi = v8f{} + 88.72283f;
  v8f xc = x < lo ? lo : x;
  xc = xc > hi ? hi : xc;
  // n = round(xc / ln2) by the 1.5 * 2^23 trick; |r| <= ln2/2 as with Cephes' floor(x/ln2 + 0.5).
  const v8f shifter = v8f{} + 12582912.0f;
  const v8f n = (xc * 1.44269504088896341f + shifter) - shifter;
  v8f r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  v8f p = v8f{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const v8f y = p * r * r + r + 1.0f;
  // 2^n as two normal factors 2^(n/2) 2^(n - n/2): n reaches 128 just below the overflow limit
  // and -126 at the bottom, where a single exponent field would overflow or underflow.
  const v8i ni = __builtin_convertvector(n, v8i);
  const v8i n1 = ni >> 1, n2 = ni - n1;
  const v8i b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  const v8f v = y * (v8f)b1 * (v8f)b2;  // a vector cast reinterprets the bits
  // Zero below the range (and for -inf): the comparison is an all-ones / all-zeros mask.
  const v8i keep = x >= lo;
  return (v8f)((v8i)v & keep);
}

// Applies a v8f -> v8f function to n floats (y may equal x), the tail through a padded vector.
template <typename Fn>
inline void map8(const float* x, float* y, int64_t n, Fn fn) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f v;
    std::memcpy(&v, x + i, sizeof v);
    v = fn(v);
    std::memcpy(y + i, &v, sizeof v);
  }
  if (i < n) {
    v8f v = {};
    std::memcpy(&v, x + i, size_t(n - i) * sizeof(float));
    v = fn(v);
    std::memcpy(y + i, &v, size_t(n - i) * sizeof(float));
  }
}

// e^x, within 2 ulp on [-87.3, 88.7] (Cephes' expf), 0 below.
inline float exp_f(float x) {
  v8f v = {};
  v[0] = x;
  return exp8(v)[0];
}
inline void exp_n(const float* x, float* y, int64_t n) { map8(x, y, n, exp8); }

// QuickGELU: x * sigmoid(1.702 x) = x / (1 + exp(-1.702 x)).
inline v8f quick_gelu8(v8f x) { return x / (1.0f + exp8(x * -1.702f)); }
inline void quick_gelu_n(const float* x, float* y, int64_t n) { map8(x, y, n, quick_gelu8); }

// Exact GELU, x/2 (1 + erf(x / sqrt 2)).
inline void gelu_n(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

// Widening of 16-bit floats (exact). F16 through the F16C conversion instruction where the target
// has it; BF16 is the high half of a float32.
inline void f16_to_f32_n(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
  for (; i + 8 <= n; i += 8) {
    __m128i h;
    std::memcpy(&h, x + i, sizeof h);
    const __m256 f = _mm256_cvtph_ps(h);
    std::memcpy(y + i, &f, sizeof f);
  }
#endif
  for (; i < n; ++i) y[i] = f16_to_f32(x[i]);
}
inline void bf16_to_f32_n(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = uint32_t(x[i]) << 16;
    std::memcpy(y + i, &bits, sizeof bits);
  }
}

// Sum of n floats with eight independent partial sums (vectorisable without reassociation flags).
inline float sum_f(const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l];
  float tail = 0;
  for (; i < n; ++i) tail += x[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// Sum of (x - m)^2.
inline float sum_sq_dev_f(const float* x, int64_t n, float m) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) {
      const float d = x[i + l] - m;
      acc[l] += d * d;
    }
  float tail = 0;
  for (; i < n; ++i) tail += (x[i] - m) * (x[i] - m);
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// Dot product with eight partial sums.
inline float dot_f(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

}  // namespace clipkit::cpu
