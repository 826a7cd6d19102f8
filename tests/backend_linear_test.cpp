// The cpu backend's linear layer against the reference backend's (ops::Backend::linear), for every
// weight precision, on odd shapes and strides, with and without bias, every activation, with and
// without accumulation into y.
//  - F32 / F16 / BF16: the reference accumulates in float64, the cpu backend in float32 through a
//    GEMM library, so they agree to float32 rounding (1e-5 of the output's magnitude, as the GEMM
//    parity test); a 16-bit weight gives exactly the result of its widened float32 copy.
//  - I8: the integer products are exact in both, and both apply the same epilogue in the same order
//    (float(acc - z wsum) * (s_x * scale) + bias). Without an activation, or with accumulation
//    (where the cpu backend calls the reference activation), the outputs are bit-identical; with
//    QuickGELU/GELU on a fresh output the cpu backend uses its vectorised activation, which is held
//    to a few ulp of the reference's float64 one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/ref/ref_backend.h"
#include "core/thread_pool.h"
#include "testing.h"

namespace clipkit {
namespace {

using ops::Act;
using test_util::randn;

// Distance in units in the last place between two finite floats of the same sign region.
int64_t ulp_distance(float a, float b) {
  auto ordered = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, 4);
    return i < 0 ? int64_t(INT32_MIN) - i : int64_t(i);
  };
  return std::llabs(ordered(a) - ordered(b));
}

// A weight W [N, K] in one storage precision and layout, with its float32 value for checks.
struct TestWeight {
  std::vector<float> f32;       // storage for F32
  std::vector<uint16_t> half;   // storage for F16 / BF16
  std::vector<int8_t> q;        // storage for I8
  std::vector<float> scale;     // I8 scales
  std::vector<float> value;     // the weight's value, [N, K] contiguous
  ops::WeightRef ref;
};

enum class Layout { kRows, kPaddedRows, kTransposed };

// Random weights (normal, sd 0.1) with row 0 all zero and, when N > 2, row 2 holding one outlier
// 100x larger than the rest (the int8 scale of that row is set by it).
TestWeight make_weight(DType dt, int64_t n, int64_t k, Layout layout, uint32_t seed) {
  TestWeight w;
  std::vector<float> v = randn(size_t(n * k), seed, 0.1f);
  for (int64_t c = 0; c < k; ++c) v[size_t(c)] = 0.0f;
  if (n > 2) v[size_t(2 * k + k / 2)] = 10.0f;
  const int64_t pad = layout == Layout::kPaddedRows ? 5 : 0;
  w.ref.dtype = dt;
  w.ref.rows = n;
  w.ref.cols = k;
  if (dt == DType::I8) {
    // Symmetric per-row int8 (the weights the engine loads): q in [-127, 127], scale > 0.
    const int64_t ld = k + pad;
    w.q.assign(size_t(n * ld), 0);
    w.scale.resize(size_t(n));
    w.value.resize(size_t(n * k));
    for (int64_t r = 0; r < n; ++r) {
      float m = 0;
      for (int64_t c = 0; c < k; ++c) m = std::max(m, std::fabs(v[size_t(r * k + c)]));
      const float s = m > 0 ? m / 127.0f : 1.0f;
      w.scale[size_t(r)] = s;
      for (int64_t c = 0; c < k; ++c) {
        const int8_t qv = int8_t(std::clamp(std::nearbyint(v[size_t(r * k + c)] / s), -127.0f, 127.0f));
        w.q[size_t(r * ld + c)] = qv;
        w.value[size_t(r * k + c)] = float(qv) * s;
      }
    }
    w.ref.data = w.q.data();
    w.ref.row_stride = ld;
    w.ref.col_stride = 1;
    w.ref.scale = w.scale.data();
    return w;
  }
  if (dt == DType::F16 || dt == DType::BF16) {
    const int64_t ld = k + pad;
    w.half.assign(size_t(n * ld), 0);
    w.value.resize(size_t(n * k));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c) {
        const float x = v[size_t(r * k + c)];
        const uint16_t h = dt == DType::F16 ? f32_to_f16(x) : f32_to_bf16(x);
        w.half[size_t(r * ld + c)] = h;
        w.value[size_t(r * k + c)] = dt == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
    w.ref.data = w.half.data();
    w.ref.row_stride = ld;
    w.ref.col_stride = 1;
    return w;
  }
  w.value = v;
  if (layout == Layout::kTransposed) {
    // Stored [K, N] (a checkpoint's [in, out] projection) with padded rows, read as W = S^T.
    const int64_t ld = n + 3;
    w.f32.assign(size_t(k * ld), 0.0f);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c) w.f32[size_t(c * ld + r)] = v[size_t(r * k + c)];
    w.ref.data = w.f32.data();
    w.ref.row_stride = 1;
    w.ref.col_stride = ld;
    return w;
  }
  const int64_t ld = k + pad;
  w.f32.assign(size_t(n * ld), 0.0f);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) w.f32[size_t(r * ld + c)] = v[size_t(r * k + c)];
  w.ref.data = w.f32.data();
  w.ref.row_stride = ld;
  w.ref.col_stride = 1;
  return w;
}

// Activations x [M, K] with row stride K + 2: normal values, row 1 all zero (the int8 path's
// zero-range row), row 3 with one large outlier, and an all-positive row 4 (zero point 0).
std::vector<float> make_x(int64_t m, int64_t k, uint32_t seed) {
  const int64_t ld = k + 2;
  std::vector<float> x = randn(size_t(m * ld), seed, 1.0f);
  if (m > 1)
    for (int64_t c = 0; c < k; ++c) x[size_t(ld + c)] = 0.0f;
  if (m > 3) x[size_t(3 * ld + k / 3)] = 60.0f;
  if (m > 4)
    for (int64_t c = 0; c < k; ++c) x[size_t(4 * ld + c)] = std::fabs(x[size_t(4 * ld + c)]);
  return x;
}

constexpr int64_t kYPad = 3;

// y [M, N] (row stride N + kYPad, starting from `y0`) after one linear call.
std::vector<float> run_linear(ops::Backend& be, const std::vector<float>& x, int64_t m, int64_t k,
                              const ops::WeightRef& w, const ops::PreparedWeight* prepared,
                              const float* bias, Act act, bool accumulate,
                              const std::vector<float>& y0) {
  std::vector<float> y = y0;
  ops::LinearArgs a;
  a.x = x.data();
  a.m = m;
  a.ldx = k + 2;
  a.w = w;
  a.prepared = prepared;
  a.bias = bias;
  a.act = act;
  a.accumulate = accumulate;
  a.y = y.data();
  a.ldy = w.rows + kYPad;
  be.linear(a);
  return y;
}

// max|a - b| / max|b| over the output elements (padding excluded).
double rel_err(const std::vector<float>& a, const std::vector<float>& b, int64_t m, int64_t n) {
  double num = 0, den = 0;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) {
      const size_t i = size_t(r * (n + kYPad) + c);
      num = std::max(num, double(std::fabs(a[i] - b[i])));
      den = std::max(den, double(std::fabs(b[i])));
    }
  return den == 0 ? num : num / den;
}

struct Shape3 {
  int64_t m, k, n;
};

// M from 1 to 70 (and 300 for the cpu backend's whole-weight widening of 16-bit weights at
// M >= 256); K never a multiple of 8 but once; N never a multiple of 16 but once.
// The last three are large enough to be split across the pool's threads (by rows, by columns).
const Shape3 kShapes[] = {{1, 1, 1},     {1, 45, 17},   {2, 3, 5},      {7, 77, 33},
                          {13, 130, 100}, {31, 17, 49}, {64, 64, 48},   {300, 37, 21},
                          {70, 301, 67},  {5, 301, 200}};

const char* dtype_str(DType d) { return dtype_name(d).data(); }

class Linear : public ::testing::TestWithParam<cpu::GemmLibrary> {
 protected:
  // Three threads, so that the cpu backend splits products into uneven blocks on any machine.
  static void SetUpTestSuite() { ThreadPool::set_global_threads(3); }
  ops::Backend& ref() { return ref::ref_backend(); }
  ops::Backend& cpu() { return cpu::cpu_backend(GetParam()); }
};

struct Case {
  DType dtype;
  Layout layout;
};
const Case kCases[] = {{DType::F32, Layout::kRows},       {DType::F32, Layout::kPaddedRows},
                       {DType::F32, Layout::kTransposed}, {DType::F16, Layout::kRows},
                       {DType::BF16, Layout::kPaddedRows}, {DType::I8, Layout::kRows},
                       {DType::I8, Layout::kPaddedRows}};

TEST_P(Linear, CpuMatchesRefEveryPrecisionShapeAndEpilogue) {
  uint32_t seed = 100;
  int64_t worst_ulp = 0;
  double worst_float = 0;
  for (const Shape3& s : kShapes)
    for (const Case& c : kCases) {
      const TestWeight w = make_weight(c.dtype, s.n, s.k, c.layout, ++seed);
      const std::vector<float> x = make_x(s.m, s.k, ++seed);
      const std::vector<float> bias = randn(size_t(s.n), ++seed, 0.5f);
      const std::vector<float> y0 = randn(size_t(s.m * (s.n + kYPad)), ++seed);
      const auto prepared = cpu().prepare_linear(w.ref);
      for (int use_bias = 0; use_bias < 2; ++use_bias)
        for (Act act : {Act::kIdentity, Act::kRelu, Act::kQuickGelu, Act::kGelu})
          for (bool acc : {false, true}) {
            const float* b = use_bias ? bias.data() : nullptr;
            const std::vector<float> yr = run_linear(ref(), x, s.m, s.k, w.ref, nullptr, b, act, acc, y0);
            const std::vector<float> yc =
                run_linear(cpu(), x, s.m, s.k, w.ref, prepared.get(), b, act, acc, y0);
            const std::string where = std::string(dtype_str(c.dtype)) + " layout " +
                                      std::to_string(int(c.layout)) + " M=" + std::to_string(s.m) +
                                      " K=" + std::to_string(s.k) + " N=" + std::to_string(s.n) +
                                      " bias=" + std::to_string(use_bias) + " act=" +
                                      ops::act_name(act) + " acc=" + std::to_string(acc);
            // The padding of y is never written.
            for (int64_t r = 0; r < s.m; ++r)
              for (int64_t p = 0; p < kYPad; ++p) {
                const size_t i = size_t(r * (s.n + kYPad) + s.n + p);
                ASSERT_EQ(yc[i], y0[i]) << where << ": padding written";
                ASSERT_EQ(yr[i], y0[i]) << where << ": padding written (ref)";
              }
            if (c.dtype != DType::I8) {
              const double e = rel_err(yc, yr, s.m, s.n);
              worst_float = std::max(worst_float, e);
              EXPECT_LT(e, 1e-5) << where;
              continue;
            }
            const bool exact = act == Act::kIdentity || act == Act::kRelu || acc;
            for (int64_t r = 0; r < s.m; ++r)
              for (int64_t col = 0; col < s.n; ++col) {
                const size_t i = size_t(r * (s.n + kYPad) + col);
                if (exact) {
                  ASSERT_EQ(yc[i], yr[i]) << where << " at [" << r << ", " << col << "]";
                } else {
                  const int64_t u = ulp_distance(yc[i], yr[i]);
                  // Near zero the activation's absolute error of a few ulp of its input matters.
                  const bool tiny = std::fabs(yr[i] - yc[i]) <= 1e-7f;
                  worst_ulp = std::max(worst_ulp, tiny ? 0 : u);
                  ASSERT_TRUE(u <= 4 || tiny) << where << " at [" << r << ", " << col << "]: cpu "
                                              << yc[i] << " ref " << yr[i] << " (" << u << " ulp)";
                }
              }
          }
    }
  std::printf("float weights: max rel err %.3g; int8 with QuickGELU/GELU: max %lld ulp\n",
              worst_float, (long long)worst_ulp);
}

TEST_P(Linear, SixteenBitEqualsWidenedFloat32) {
  uint32_t seed = 500;
  for (const Shape3& s : kShapes)
    for (DType dt : {DType::F16, DType::BF16}) {
      const TestWeight w = make_weight(dt, s.n, s.k, Layout::kPaddedRows, ++seed);
      ops::WeightRef wide{w.value.data(), DType::F32, s.n, s.k, s.k, 1, nullptr};
      const std::vector<float> x = make_x(s.m, s.k, ++seed);
      const std::vector<float> bias = randn(size_t(s.n), ++seed);
      const std::vector<float> y0(size_t(s.m * (s.n + kYPad)), 0.0f);
      for (Act act : {Act::kIdentity, Act::kGelu}) {
        for (ops::Backend* be : {&ref(), &cpu()}) {
          const auto yh = run_linear(*be, x, s.m, s.k, w.ref, nullptr, bias.data(), act, false, y0);
          const auto yf = run_linear(*be, x, s.m, s.k, wide, nullptr, bias.data(), act, false, y0);
          EXPECT_EQ(yh, yf) << be->name() << " " << dtype_str(dt) << " M=" << s.m << " K=" << s.k
                            << " N=" << s.n << " act=" << ops::act_name(act);
        }
      }
    }
}

TEST_P(Linear, Int8FollowsTheRecipe) {
  // The ref backend's int8 output written out from the recipe at ops::Backend::linear, in float64
  // for the integer part (exact) and float32 for the epilogue, on rows that exercise the zero
  // point, the zero-range row and saturation of the activation quantisation.
  const int64_t m = 6, k = 29, n = 11;
  const TestWeight w = make_weight(DType::I8, n, k, Layout::kRows, 7);
  const std::vector<float> x = make_x(m, k, 8);
  const std::vector<float> bias = randn(size_t(n), 9);
  const std::vector<float> y0(size_t(m * (n + kYPad)), 0.0f);
  const auto yr = run_linear(ref(), x, m, k, w.ref, nullptr, bias.data(), Act::kIdentity, false, y0);
  const auto yc = run_linear(cpu(), x, m, k, w.ref, nullptr, bias.data(), Act::kIdentity, false, y0);
  for (int64_t r = 0; r < m; ++r) {
    const float* xr = x.data() + r * (k + 2);
    float lo = 0, hi = 0;
    for (int64_t c = 0; c < k; ++c) lo = std::min(lo, xr[c]), hi = std::max(hi, xr[c]);
    std::vector<int32_t> q(size_t(k), 0);
    float sx = 1.0f;
    int32_t z = 0;
    if (hi > lo) {
      const float inv = 127.0f / (hi - lo);
      sx = (hi - lo) / 127.0f;
      z = int32_t(std::nearbyint(-lo * inv));
      for (int64_t c = 0; c < k; ++c)
        q[size_t(c)] = std::clamp(int32_t(std::nearbyint(xr[c] * inv)) + z, 0, 127);
    }
    for (int64_t col = 0; col < n; ++col) {
      int32_t acc = 0, wsum = 0;
      for (int64_t c = 0; c < k; ++c) {
        acc += q[size_t(c)] * w.q[size_t(col * k + c)];
        wsum += w.q[size_t(col * k + c)];
      }
      const float want = float(acc - z * wsum) * (sx * w.scale[size_t(col)]) + bias[size_t(col)];
      EXPECT_EQ(yr[size_t(r * (n + kYPad) + col)], want) << "ref [" << r << ", " << col << "]";
      EXPECT_EQ(yc[size_t(r * (n + kYPad) + col)], want) << "cpu [" << r << ", " << col << "]";
    }
  }
  // Row 1 of x is zero: every output of that row is the bias.
  for (int64_t col = 0; col < n; ++col) EXPECT_EQ(yc[size_t(1 * (n + kYPad) + col)], bias[size_t(col)]);
}

TEST_P(Linear, Int8CloseToTheFloatLayer) {
  // The quantisation error itself, on CLIP-like sizes: int8 weights and per-token int8 activations
  // against the float32 layer of the same (dequantised) weight.
  const int64_t m = 50, k = 768, n = 96;
  const TestWeight w = make_weight(DType::I8, n, k, Layout::kRows, 11);
  ops::WeightRef deq{w.value.data(), DType::F32, n, k, k, 1, nullptr};
  const std::vector<float> x = randn(size_t(m * (k + 2)), 12);
  const std::vector<float> y0(size_t(m * (n + kYPad)), 0.0f);
  const auto yq = run_linear(cpu(), x, m, k, w.ref, nullptr, nullptr, Act::kIdentity, false, y0);
  const auto yf = run_linear(ref(), x, m, k, deq, nullptr, nullptr, Act::kIdentity, false, y0);
  const double e = rel_err(yq, yf, m, n);
  std::printf("int8 vs float32 layer of the same weights: rel err %.3g\n", e);
  EXPECT_LT(e, 0.03);  // 7-bit activations: a step is 1/127 of a row's range
}

INSTANTIATE_TEST_SUITE_P(Libraries, Linear,
                         ::testing::Values(cpu::GemmLibrary::kOneDnn, cpu::GemmLibrary::kOpenBlas),
                         [](const ::testing::TestParamInfo<cpu::GemmLibrary>& i) {
                           return std::string(cpu::gemm_library_name(i.param));
                         });

}  // namespace
}  // namespace clipkit
