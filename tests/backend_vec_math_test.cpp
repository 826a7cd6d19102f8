// The cpu backend's vectorised math (backends/cpu/vec_math.h) against the C library in double
// precision: erf over a dense sweep of all floats and its special values, exact GELU over the
// range where it is not 0, exp over its range. Errors are measured in ulp of the float32 result
// closest to the double reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/vec_math.h"

namespace clipkit {
namespace {

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// |y - ref| in units of the spacing of floats at ref (the denormal spacing below FLT_MIN).
double ulp_error(float y, double ref) {
  const double a = std::fabs(ref);
  int e = 0;
  std::frexp(a < double(FLT_MIN) ? double(FLT_MIN) : a, &e);  // a in [2^(e-1), 2^e)
  const double ulp = std::ldexp(1.0, e - 24);
  return std::fabs(double(y) - ref) / ulp;
}

// erf of every float in [lo_bits, hi_bits] stepping `step` bit patterns, in both signs; returns
// the largest ulp error and where it was.
struct Worst {
  double ulp = 0;
  float at = 0;
};
Worst sweep_erf(uint32_t lo_bits, uint32_t hi_bits, uint32_t step) {
  Worst w;
  std::vector<float> x, y;
  auto check = [&] {
    y.resize(x.size());
    cpu::erf_n(x.data(), y.data(), int64_t(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const double e = ulp_error(y[i], std::erf(double(x[i])));
      if (e > w.ulp) w = {e, x[i]};
    }
    x.clear();
  };
  for (uint64_t b = lo_bits; b <= hi_bits; b += step) {
    x.push_back(from_bits(uint32_t(b)));
    x.push_back(-from_bits(uint32_t(b)));
    if (x.size() >= (1u << 16)) check();
  }
  check();
  return w;
}

float erf1(float x) {
  float y;
  cpu::erf_n(&x, &y, 1);
  return y;
}

TEST(VecMath, ErfWithinTwoUlpOverDenseSweep) {
  // Every 7th float of [1e-6, 4.5] (about 90 million values per sign, enough to see any bump
  // between the fit's nodes) and every float near the switch between the two fits at |x| = 1.
  const Worst core = sweep_erf(bits(1e-6f), bits(4.5f), 7);
  EXPECT_LE(core.ulp, 2.0) << "at x = " << core.at;
  const Worst seam = sweep_erf(bits(1.0f) - 100000, bits(1.0f) + 100000, 1);
  EXPECT_LE(seam.ulp, 2.0) << "at x = " << seam.at;
  std::printf("erf: max %.3f ulp on [1e-6, 4.5] (at %.9g), %.3f ulp around 1\n", core.ulp,
              double(core.at), seam.ulp);
}

TEST(VecMath, ErfTailsAndTinyArguments) {
  // All floats by a coarse step: tiny and denormal arguments (erf(x) = 2x/sqrt(pi)) and the
  // saturated tail, where the result must be exactly +-1.
  const Worst all = sweep_erf(1, bits(std::numeric_limits<float>::max()), 4099);
  EXPECT_LE(all.ulp, 2.0) << "at x = " << all.at;
  for (float x : {4.0f, 4.5f, 10.0f, 1e10f, std::numeric_limits<float>::max()}) {
    EXPECT_EQ(erf1(x), 1.0f) << x;
    EXPECT_EQ(erf1(-x), -1.0f) << x;
  }
  EXPECT_EQ(erf1(std::numeric_limits<float>::infinity()), 1.0f);
  EXPECT_EQ(erf1(-std::numeric_limits<float>::infinity()), -1.0f);
  EXPECT_EQ(bits(erf1(0.0f)), bits(0.0f));
  EXPECT_EQ(bits(erf1(-0.0f)), bits(-0.0f));
  EXPECT_TRUE(std::isnan(erf1(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(erf1(-std::numeric_limits<float>::quiet_NaN())));
}

TEST(VecMath, ErfIsOddAndMonotonic) {
  std::vector<float> x, y;
  for (uint32_t b = 0; b <= bits(4.2f); b += 97) x.push_back(from_bits(b));
  const size_t n = x.size();
  for (size_t i = 0; i < n; ++i) x.push_back(-x[i]);
  y.resize(x.size());
  cpu::erf_n(x.data(), y.data(), int64_t(x.size()));
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(y[n + i], -y[i]) << x[i];
    if (i > 0) {
      ASSERT_GE(y[i], y[i - 1]) << x[i];
    }
  }
}

// GELU in double, the reference.
double gelu_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_ref_neg(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }

TEST(VecMath, GeluRelativeErrorIncludingTheNegativeSide) {
  // 1 + erf(x/sqrt 2) cancels for x < 0; gelu_n takes it from erfc instead, so the result keeps
  // its relative accuracy down to where erf saturates (x = -4 sqrt 2).
  std::vector<float> x;
  for (float v = -5.6f; v <= 10.0f; v += 1.0f / 4096) x.push_back(v);
  for (float v : {1e-30f, -1e-30f, 1e-3f, -1e-3f, 0.0f, 20.0f, 1e6f}) x.push_back(v);
  std::vector<float> y(x.size());
  cpu::gelu_n(x.data(), y.data(), int64_t(x.size()));
  // Worst ulp error for x >= 0, on [-4, 0) and on [-5.6, -4).
  double worst[3] = {0, 0, 0};
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = x[i] < 0 ? gelu_ref_neg(double(x[i])) : gelu_ref(double(x[i]));
    const int range = x[i] >= 0 ? 0 : x[i] >= -4 ? 1 : 2;
    worst[range] = std::max(worst[range], ulp_error(y[i], ref));
  }
  std::printf("gelu: max %.2f ulp for x >= 0, %.2f on [-4, 0), %.2f on [-5.6, -4)\n", worst[0],
              worst[1], worst[2]);
  EXPECT_LE(worst[0], 3.0);
  // For x < 0 the result is x/2 erfc(t), t = |x|/sqrt 2 rounded to float32; erfc's condition
  // number there is about 2 t^2 (16 at x = -4), so the rounding of t alone costs up to ~16 ulp,
  // and the float32 value of log erfc(t) (down to -16) adds its own rounding. (1 + erf in
  // float32 loses every digit near x = -5.6.)
  EXPECT_LE(worst[1], 32.0);
  EXPECT_LE(worst[2], 64.0);
  // Far tail: the true value is below 2e-8 in magnitude there; the result is -0.
  const float far[] = {-6.0f, -100.0f, -1e30f};
  float yf[3];
  cpu::gelu_n(far, yf, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_LE(std::fabs(double(yf[i]) - gelu_ref_neg(double(far[i]))), 2e-8) << far[i];
  }
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity()};
  float ys[2];
  cpu::gelu_n(specials, ys, 2);
  EXPECT_TRUE(std::isnan(ys[0]));
  EXPECT_EQ(ys[1], std::numeric_limits<float>::infinity());
}

TEST(VecMath, ExpWithinTwoUlp) {
  std::vector<float> x;
  for (uint32_t b = 0; b <= bits(87.3f); b += 613) x.push_back(-from_bits(b));
  for (uint32_t b = 0; b <= bits(88.7f); b += 613) x.push_back(from_bits(b));
  std::vector<float> y(x.size());
  cpu::exp_n(x.data(), y.data(), int64_t(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, ulp_error(y[i], std::exp(double(x[i]))));
  std::printf("exp: max %.3f ulp on [-87.3, 88.7]\n", worst);
  EXPECT_LE(worst, 2.0);
  const float below[] = {-88.0f, -1000.0f, -std::numeric_limits<float>::infinity()};
  float yb[3];
  cpu::exp_n(below, yb, 3);
  for (float v : yb) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace clipkit
