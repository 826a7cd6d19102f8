// Vectorised float32 math for the cpu kernels (std::exp and std::erf are library calls per
// element). All functions work on 8-float generic vectors (v8f), so they compile to AVX2 on this
// project's targets and to plain code elsewhere.
//  - exp8 follows Cephes' expf: range reduction x = n ln2 + r with ln2 split in two parts, a
//    degree-6 polynomial for e^r on |r| <= ln2/2 and the exponent built from bits; within 2 ulp of
//    the correctly rounded result on [-87.3, 88.7], 0 below.
//  - erf8 is a minimax polynomial for erf(x)/x on |x| < 1 and exp of a minimax polynomial for
//    log erfc(|x|) on [1, 4); within 1 ulp of the correctly rounded erf over all floats (1.3 ulp
//    where the target has no FMA), exactly +-1 from |x| = 4 on, NaN for NaN.
// The error bounds are measured against the C library in double precision by
// tests/backend_vec_math_test.cpp (dense sweeps of the float range).
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

inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }
// x in all lanes: one broadcast (v8f{} + x would be an addition, since 0 + -0 is not -0).
inline v8f splat8(float x) { return v8f{x, x, x, x, x, x, x, x}; }

// a * b + c with one rounding where the target has FMA (the explicit instruction is not affected
// by the project's -ffp-contract=off), two roundings otherwise. Used where an error bound holds
// either way and is not tied to a reference's rounding order: the polynomials of exp8 and erf8,
// and the products of attention (a GEMM library's FMA kernels computed them before).
inline v8f fma8(v8f a, v8f b, v8f c) {
#if defined(__FMA__)
  return (v8f)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
  return a * b + c;
#endif
}

inline v8f max8(v8f a, v8f b) { return a > b ? a : b; }
inline v8f min8(v8f a, v8f b) { return a < b ? a : b; }

// Horizontal reductions, in a fixed order (pairs of halves).
inline float hsum8(v8f v) {
  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}
inline float hmax8(v8f v) {
  const float a = v[0] > v[4] ? v[0] : v[4], b = v[2] > v[6] ? v[2] : v[6];
  const float c = v[1] > v[5] ? v[1] : v[5], d = v[3] > v[7] ? v[3] : v[7];
  const float ab = a > b ? a : b, cd = c > d ? c : d;
  return ab > cd ? ab : cd;
}

inline v8f exp8(v8f x) {
  const v8f lo = v8f{} - 87.33654f, hi = v8f{} + 88.72283f;
  v8f xc = x < lo ? lo : x;
  xc = xc > hi ? hi : xc;
  // n = round(xc / ln2) by the 1.5 * 2^23 trick; |r| <= ln2/2 as with Cephes' floor(x/ln2 + 0.5).
  const v8f shifter = splat8(12582912.0f);
  const v8f n = fma8(xc, splat8(1.44269504088896341f), shifter) - shifter;
  v8f r = fma8(n, splat8(-0.693359375f), xc);
  r = fma8(n, splat8(2.12194440e-4f), r);
  v8f p = splat8(1.9875691500e-4f);
  p = fma8(p, r, splat8(1.3981999507e-3f));
  p = fma8(p, r, splat8(8.3334519073e-3f));
  p = fma8(p, r, splat8(4.1665795894e-2f));
  p = fma8(p, r, splat8(1.6666665459e-1f));
  p = fma8(p, r, splat8(5.0000001201e-1f));
  const v8f y = fma8(p, r * r, r) + 1.0f;
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

// erf(x) for 8 floats; also returns 1 + erf(x) through `one_plus` when that is non-null, computed
// without the cancellation of 1 + erf for x <= -1 (there it is erfc(|x|) itself).
//   |x| < 1:      erf(x) = x + x P(x^2), 1 + P a degree-6 minimax fit of erf(x)/x (relative
//                 error 1.2e-9)
//   1 <= |x| < 4: erfc(|x|) = exp(R(|x| - 1)), R a degree-8 minimax fit of log erfc (absolute
//                 error 1.2e-8, i.e. that relative error in erfc), erf(x) = sign(x) (1 - erfc)
//   |x| >= 4:     erf(x) = sign(x) (erfc(4) = 1.5e-8 is below half an ulp of 1)
// NaN gives NaN; +-inf gives +-1; -0 gives -0.
inline v8f erf8(v8f x, v8f* one_plus = nullptr) {
  const v8i sign_bit = v8i{} + int32_t(0x80000000u);
  const v8f t = (v8f)((v8i)x & ~sign_bit);
  const v8f s = x * x;
  v8f p = splat8(7.85386146e-05f);
  p = fma8(p, s, splat8(-8.01019371e-04f));
  p = fma8(p, s, splat8(5.18832775e-03f));
  p = fma8(p, s, splat8(-2.68538129e-02f));
  p = fma8(p, s, splat8(1.12835854e-01f));
  p = fma8(p, s, splat8(-3.76126260e-01f));
  p = fma8(p, s, splat8(1.28379166e-01f));  // 2/sqrt(pi) - 1
  const v8f small = fma8(x, p, x);          // x (1 + p): the small correction rounds, not x
  // The tail polynomial on u in [0, 3]; |x| outside [1, 4) (NaN included) evaluates it at a
  // clamped point and is replaced below.
  const v8f u = min8(max8(t, splat8(1.0f)), splat8(4.0f)) - 1.0f;
  v8f r = splat8(1.59981516e-06f);
  r = fma8(r, u, splat8(-3.24994908e-05f));
  r = fma8(r, u, splat8(3.17911210e-04f));
  r = fma8(r, u, splat8(-2.04813830e-03f));
  r = fma8(r, u, splat8(1.00686830e-02f));
  r = fma8(r, u, splat8(-4.15682979e-02f));
  r = fma8(r, u, splat8(-8.43107820e-01f));
  r = fma8(r, u, splat8(-2.63896728e+00f));
  r = fma8(r, u, splat8(-1.84960556e+00f));
  const v8i in_tail = t < 4.0f;
  const v8f erfc_t = (v8f)((v8i)exp8(r) & in_tail);  // 0 from |x| = 4 on
  const v8f big = (v8f)((v8i)(1.0f - erfc_t) | ((v8i)x & sign_bit));
  const v8i is_small = t < 1.0f;
  v8f y = is_small ? small : big;
  const v8i is_nan = x != x;
  y = is_nan ? x : y;
  if (one_plus) {
    const v8i neg_tail = (x <= -1.0f) & ~is_nan;
    *one_plus = neg_tail ? erfc_t : 1.0f + y;
  }
  return y;
}

// Exact GELU, x/2 (1 + erf(x / sqrt 2)), with 1 + erf taken from erf8 (accurate for x < 0 too).
inline v8f gelu8(v8f x) {
  v8f one_plus;
  erf8(x * 0.70710678118654752f, &one_plus);
  return 0.5f * x * one_plus;
}
inline void erf_n(const float* x, float* y, int64_t n) {
  map8(x, y, n, [](v8f v) { return erf8(v); });
}
inline void gelu_n(const float* x, float* y, int64_t n) { map8(x, y, n, gelu8); }

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

// Reductions over n floats in 32 independent lanes (four vectors: the adds of one vector depend
// on each other, so a single accumulator would wait on the add latency), combined in a fixed order.
// `term` maps the vectors of element i (and, for the tail, each float) to what is summed.
template <typename VecTerm, typename ScalarTerm>
inline float reduce_sum4(int64_t n, VecTerm vterm, ScalarTerm sterm) {
  v8f a0 = {}, a1 = {}, a2 = {}, a3 = {};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 += vterm(i);
    a1 += vterm(i + 8);
    a2 += vterm(i + 16);
    a3 += vterm(i + 24);
  }
  for (; i + 8 <= n; i += 8) a0 += vterm(i);
  float tail = 0;
  for (; i < n; ++i) tail += sterm(i);
  return hsum8((a0 + a2) + (a1 + a3)) + tail;
}

// Sum of n floats.
inline float sum_f(const float* x, int64_t n) {
  return reduce_sum4(n, [&](int64_t i) { return load8(x + i); }, [&](int64_t i) { return x[i]; });
}

// Dot product.
inline float dot_f(const float* a, const float* b, int64_t n) {
  return reduce_sum4(n, [&](int64_t i) { return load8(a + i) * load8(b + i); },
                     [&](int64_t i) { return a[i] * b[i]; });
}

// Largest of n >= 1 floats (for inputs without NaN).
inline float max_of(const float* x, int64_t n) {
  int64_t i = 0;
  float m = x[0];
  if (n >= 8) {
    v8f a = load8(x), b = a;
    for (i = 8; i + 16 <= n; i += 16) {
      a = max8(a, load8(x + i));
      b = max8(b, load8(x + i + 8));
    }
    for (; i + 8 <= n; i += 8) a = max8(a, load8(x + i));
    m = hmax8(max8(a, b));
  }
  for (; i < n; ++i) m = max_f(m, x[i]);
  return m;
}

}  // namespace clipkit::cpu
