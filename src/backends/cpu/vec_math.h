// Branch-free float32 math the compiler can vectorise inside loops (std::exp is a library call
// per element). exp_f follows Cephes' expf: range reduction x = n ln2 + r with ln2 split in two
// parts, a degree-6 polynomial for e^r on |r| <= ln2/2 and the exponent built from bits; its
// error is within 2 ulp of the correctly rounded result on [-87.3, 88.7], and it returns 0 below.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace clipkit::cpu {

inline float exp_f(float x) {
  const float xc = std::fmin(std::fmax(x, -87.33654f), 88.72283f);
  const float n = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x < -87.33654f ? 0.0f : y * scale;
}

// QuickGELU: x * sigmoid(1.702 x) = x / (1 + exp(-1.702 x)).
inline float quick_gelu_f(float x) { return x / (1.0f + exp_f(-1.702f * x)); }

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
