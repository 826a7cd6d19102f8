// Prepared convolutions (ops::ConvSpec, Backend::prepare_conv / conv / conv_reorder): the cpu
// backend (oneDNN primitives) against the reference backend on odd shapes — 1x1 and 3x3 kernels,
// stride 1 and 2, padding, channel counts that are not multiples of 8, with and without bias,
// BatchNorm, residual and ReLU, batches of 1 and 3 — in every activation layout, with both ways
// of threading and several pool sizes (which change how a convolution is split). The reference
// itself is checked against the unfused definition computed here in float64 (convolution, then
// BatchNorm, residual and ReLU, from PyTorch's formulas) and against a hand-computed case.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends/cpu/conv_onednn.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/ref/ref_backend.h"
#include "core/thread_pool.h"
#include "ops/conv.h"
#include "ops/workspace.h"
#include "testing.h"

namespace clipkit {
namespace {

using ops::ConvLayout;
using test_util::randn;
using test_util::rel_err;
using test_util::uniform;

// Element (n, c, h, w) of a [N, C, H, W] activation in `layout`, as ops::ConvLayout documents it.
size_t index_of(ConvLayout layout, int64_t C, int64_t H, int64_t W, int64_t n, int64_t c, int64_t h,
                int64_t w) {
  switch (layout) {
    case ConvLayout::kNchw: return size_t(((n * C + c) * H + h) * W + w);
    case ConvLayout::kNhwc: return size_t(((n * H + h) * W + w) * C + c);
    default: {
      const int64_t b = ops::conv_layout_block(layout), blocks = (C + b - 1) / b;
      return size_t((((n * blocks + c / b) * H + h) * W + w) * b + c % b);
    }
  }
}

// An NCHW buffer written into `layout` by the test's own indexing (padding channels zero).
std::vector<float> to_layout(const std::vector<float>& nchw, ConvLayout layout, int64_t N, int64_t C,
                             int64_t H, int64_t W) {
  std::vector<float> out(size_t(ops::conv_layout_floats(layout, N, C, H, W)), 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          out[index_of(layout, C, H, W, n, c, h, w)] = nchw[size_t(((n * C + c) * H + h) * W + w)];
  return out;
}

std::vector<float> to_nchw(const std::vector<float>& buf, ConvLayout layout, int64_t N, int64_t C,
                           int64_t H, int64_t W) {
  std::vector<float> out(size_t(N * C * H * W));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          out[size_t(((n * C + c) * H + h) * W + w)] = buf[index_of(layout, C, H, W, n, c, h, w)];
  return out;
}

// Values stored in the padding channels of a blocked buffer that are not zero.
int nonzero_padding(const std::vector<float>& buf, ConvLayout layout, int64_t N, int64_t C,
                    int64_t H, int64_t W) {
  const int64_t b = ops::conv_layout_block(layout);
  const int64_t padded = (C + b - 1) / b * b;
  int bad = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = C; c < padded; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) bad += buf[index_of(layout, padded, H, W, n, c, h, w)] != 0.0f;
  return bad;
}

struct ConvCase {
  int64_t n, c, h, w, o, k, stride, pad;
  bool bias, bn, residual, relu;
};

std::string describe(const ConvCase& c) {
  std::ostringstream os;
  os << "x [" << c.n << ", " << c.c << ", " << c.h << ", " << c.w << "] w [" << c.o << ", " << c.c
     << ", " << c.k << ", " << c.k << "] stride " << c.stride << " pad " << c.pad
     << (c.bias ? " bias" : "") << (c.bn ? " bn" : "") << (c.residual ? " residual" : "")
     << (c.relu ? " relu" : "");
  return os.str();
}

// A layer's random parameters and input, kept alive for the spec's pointers.
struct ConvData {
  ConvCase c;
  std::vector<float> weight, bias, mean, var, gamma, beta, x, residual;
  ops::ConvSpec spec;
  int64_t oh, ow;

  explicit ConvData(const ConvCase& cc, uint32_t seed = 7) : c(cc) {
    const float wscale = 1.0f / std::sqrt(float(c.c * c.k * c.k));
    weight = randn(size_t(c.o * c.c * c.k * c.k), seed, wscale);
    bias = randn(size_t(c.o), seed + 1, 0.5f);
    mean = randn(size_t(c.o), seed + 2, 0.3f);
    var = uniform(size_t(c.o), seed + 3, 0.2f, 2.0f);
    gamma = uniform(size_t(c.o), seed + 4, 0.5f, 1.5f);
    beta = randn(size_t(c.o), seed + 5, 0.3f);
    x = randn(size_t(c.n * c.c * c.h * c.w), seed + 6);
    spec.weight = weight.data();
    spec.out_channels = c.o, spec.in_channels = c.c, spec.kh = c.k, spec.kw = c.k;
    spec.stride = c.stride, spec.pad = c.pad;
    spec.bias = c.bias ? bias.data() : nullptr;
    if (c.bn) {
      spec.bn_mean = mean.data(), spec.bn_var = var.data();
      spec.bn_gamma = gamma.data(), spec.bn_beta = beta.data();
    }
    spec.residual = c.residual;
    spec.act = c.relu ? ops::Act::kRelu : ops::Act::kIdentity;
    oh = spec.out_h(c.h), ow = spec.out_w(c.w);
    residual = randn(size_t(c.n * c.o * oh * ow), seed + 7);
  }

  // The layer by its definition, unfused, in float64: convolution, bias, BatchNorm as PyTorch
  // defines it ((z - mean) / sqrt(var + eps) * gamma + beta), residual, ReLU. NCHW.
  std::vector<float> expected() const {
    std::vector<float> y(size_t(c.n * c.o * oh * ow));
    for (int64_t n = 0; n < c.n; ++n)
      for (int64_t o = 0; o < c.o; ++o)
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox) {
            double z = c.bias ? bias[size_t(o)] : 0.0;
            for (int64_t ci = 0; ci < c.c; ++ci)
              for (int64_t ky = 0; ky < c.k; ++ky)
                for (int64_t kx = 0; kx < c.k; ++kx) {
                  const int64_t iy = oy * c.stride - c.pad + ky, ix = ox * c.stride - c.pad + kx;
                  if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                  z += double(weight[size_t(((o * c.c + ci) * c.k + ky) * c.k + kx)]) *
                       double(x[size_t(((n * c.c + ci) * c.h + iy) * c.w + ix)]);
                }
            if (c.bn)
              z = (z - mean[size_t(o)]) / std::sqrt(double(var[size_t(o)]) + 1e-5) * gamma[size_t(o)] +
                  beta[size_t(o)];
            const size_t i = size_t(((n * c.o + o) * oh + oy) * ow + ox);
            if (c.residual) z += residual[i];
            if (c.relu) z = std::max(z, 0.0);
            y[i] = float(z);
          }
    return y;
  }

  // Runs `be`'s prepared layer with x in `xl` and y in `yl`; returns y as NCHW.
  std::vector<float> run(ops::Backend& be, const ops::PreparedConv& p, ConvLayout xl,
                         ConvLayout yl, int* padding_errors = nullptr) const {
    const std::vector<float> xb = to_layout(x, xl, c.n, c.c, c.h, c.w);
    std::vector<float> yb = c.residual ? to_layout(residual, yl, c.n, c.o, oh, ow)
                                       : std::vector<float>(size_t(ops::conv_layout_floats(yl, c.n, c.o, oh, ow)),
                                                            std::nanf(""));
    be.conv(p, ops::ConstConvTensor{xb.data(), c.n, c.c, c.h, c.w, xl},
            ops::ConvTensor{yb.data(), c.n, c.o, oh, ow, yl});
    if (padding_errors) *padding_errors = ops::conv_layout_block(yl) > 1 ? nonzero_padding(yb, yl, c.n, c.o, oh, ow) : 0;
    return to_nchw(yb, yl, c.n, c.o, oh, ow);
  }
};

const ConvCase kCases[] = {
    // n  c   h   w   o   k  s  p   bias   bn     resid  relu
    {1, 3, 17, 17, 12, 3, 2, 1, false, true, false, true},   // a stem: 3 channels, stride 2
    {3, 3, 16, 15, 20, 3, 2, 1, true, false, false, false},
    {1, 12, 9, 9, 12, 3, 1, 1, false, true, false, true},    // 3x3, stride 1, pad 1
    {3, 20, 7, 9, 17, 3, 1, 1, true, true, false, true},
    {1, 17, 8, 8, 40, 1, 1, 0, false, true, true, true},     // 1x1 with residual + relu (conv3)
    {3, 40, 5, 6, 68, 1, 1, 0, false, true, true, true},
    {3, 16, 6, 6, 64, 1, 1, 0, false, true, false, false},   // downsample: 1x1, no relu
    {1, 64, 7, 7, 24, 1, 1, 0, true, false, true, false},    // residual without relu
    {3, 5, 10, 10, 9, 1, 2, 0, false, false, false, true},   // 1x1 stride 2
    {3, 9, 11, 11, 33, 3, 2, 0, true, true, false, true},    // 3x3 stride 2 no padding
    {1, 8, 4, 4, 8, 3, 1, 2, false, false, false, false},    // padding wider than needed
    {1, 4, 6, 6, 4, 3, 1, 1, false, true, true, true},       // fewer channels than a block
    {2, 64, 14, 14, 64, 3, 1, 1, false, true, false, true},  // a real stage's 3x3 (larger K)
};

TEST(ConvReference, MatchesTheUnfusedDefinition) {
  ops::Backend& ref = ref::ref_backend();
  for (const ConvCase& c : kCases) {
    const ConvData d(c);
    const auto p = ref.prepare_conv(d.spec);
    for (ConvLayout xl : {ConvLayout::kNchw, ConvLayout::kNhwc, ConvLayout::kBlocked8})
      for (ConvLayout yl : {ConvLayout::kNchw, ConvLayout::kNhwc, ConvLayout::kBlocked16}) {
        int pad_errors = 0;
        const auto got = d.run(ref, *p, xl, yl, &pad_errors);
        // Folding the BatchNorm rounds the weights to float32 once more than the definition.
        EXPECT_LT(rel_err(got, d.expected()), 1e-6) << describe(c);
        EXPECT_EQ(pad_errors, 0) << describe(c);
      }
  }
}

TEST(ConvReference, HandComputedCase) {
  // One 3x3 input channel, a 2x2 kernel, stride 1, no padding; BatchNorm with var + eps = 4:
  // z = conv + bias, y = relu((z - 1) / 2 * 3 + 0.5).
  const std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> w{1, 0, -1, 2}, bias{0.5f}, mean{1}, var{4.0f - 1e-5f}, gamma{3}, beta{0.5f};
  // conv: [1 - 4 + 2*5, 2 - 5 + 2*6; 4 - 7 + 2*8, 5 - 8 + 2*9] = [7, 9; 13, 15]; z = conv + 0.5
  const std::vector<float> expected{10.25f, 13.25f, 19.25f, 22.25f};  // (z - 1) * 1.5 + 0.5
  ops::ConvSpec s;
  s.weight = w.data();
  s.out_channels = 1, s.in_channels = 1, s.kh = 2, s.kw = 2;
  s.bias = bias.data();
  s.bn_mean = mean.data(), s.bn_var = var.data(), s.bn_gamma = gamma.data(), s.bn_beta = beta.data();
  s.act = ops::Act::kRelu;
  for (ops::Backend* be : {static_cast<ops::Backend*>(&ref::ref_backend()),
                           static_cast<ops::Backend*>(&cpu::cpu_backend())}) {
    const auto p = be->prepare_conv(s);
    std::vector<float> y(4);
    be->conv(*p, {x.data(), 1, 1, 3, 3, ConvLayout::kNchw}, {y.data(), 1, 1, 2, 2, ConvLayout::kNchw});
    for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(y[i], expected[i], 1e-5) << be->name() << " " << i;
  }
}

struct ThreadConfig {
  cpu::ConvThreading threading;
  int threads;
};

class CpuConv : public ::testing::TestWithParam<ThreadConfig> {
 protected:
  void SetUp() override {
    saved_ = cpu::conv_threading();
    cpu::set_conv_threading(GetParam().threading);
    ThreadPool::set_global_threads(GetParam().threads);
  }
  void TearDown() override {
    cpu::set_conv_threading(saved_);
    ThreadPool::set_global_threads(0);
  }
  ops::Backend& ref() { return ref::ref_backend(); }
  ops::Backend& cpu() { return cpu::cpu_backend(); }

 private:
  cpu::ConvThreading saved_ = cpu::ConvThreading::kPool;
};

TEST_P(CpuConv, MatchesReferenceInEveryLayout) {
  const ConvLayout fast = cpu().conv_layout();
  for (const ConvCase& c : kCases) {
    const ConvData d(c);
    const auto pr = ref().prepare_conv(d.spec);
    const auto pc = cpu().prepare_conv(d.spec);
    const auto want = d.run(ref(), *pr, ConvLayout::kNchw, ConvLayout::kNchw);
    const std::pair<ConvLayout, ConvLayout> layouts[] = {
        {fast, fast}, {ConvLayout::kNchw, fast}, {ConvLayout::kNhwc, ConvLayout::kNhwc},
        {ConvLayout::kNchw, ConvLayout::kNchw}, {fast, ConvLayout::kNhwc}};
    for (const auto& [xl, yl] : layouts) {
      int pad_errors = 0;
      const auto got = d.run(cpu(), *pc, xl, yl, &pad_errors);
      EXPECT_LT(rel_err(got, want), 2e-6)
          << describe(c) << " " << ops::conv_layout_name(xl) << " -> " << ops::conv_layout_name(yl);
      EXPECT_EQ(pad_errors, 0) << describe(c) << ": padding channels written";
    }
  }
}

TEST_P(CpuConv, BatchSizesShareOnePreparedLayer) {
  // One prepared layer run on batches 1, 3, 1, 2: each new shape makes its own primitive, the
  // earlier ones stay valid.
  const ConvCase base{3, 20, 9, 9, 36, 3, 1, 1, false, true, true, true};
  const ConvData d3(base);
  const auto pc = cpu().prepare_conv(d3.spec);
  const auto pr = ref().prepare_conv(d3.spec);
  const ConvLayout fast = cpu().conv_layout();
  for (int64_t n : {1, 3, 1, 2}) {
    ConvCase c = base;
    c.n = n;
    const ConvData d(c);  // new inputs; the layer is the one prepared above
    EXPECT_LT(rel_err(d.run(cpu(), *pc, fast, fast), d.run(ref(), *pr, ConvLayout::kNchw, ConvLayout::kNchw)), 2e-6)
        << "batch " << n;
  }
}

TEST_P(CpuConv, ConcurrentCallsOnOneLayer) {
  const ConvCase c{3, 16, 8, 8, 24, 3, 1, 1, false, true, false, true};
  const ConvData d(c);
  const auto pc = cpu().prepare_conv(d.spec);
  const auto want = d.run(ref(), *ref().prepare_conv(d.spec), ConvLayout::kNchw, ConvLayout::kNchw);
  std::vector<double> errs(4, 1.0);
  std::vector<std::thread> ts;
  for (size_t t = 0; t < errs.size(); ++t)
    ts.emplace_back([&, t] {
      const ConvLayout fast = cpu().conv_layout();
      errs[t] = rel_err(d.run(cpu(), *pc, fast, fast), want);
    });
  for (auto& t : ts) t.join();
  for (double e : errs) EXPECT_LT(e, 2e-6);
}

TEST_P(CpuConv, ReorderMatchesReference) {
  const ConvLayout all[] = {ConvLayout::kNchw, ConvLayout::kNhwc, ConvLayout::kBlocked8,
                            ConvLayout::kBlocked16};
  for (int64_t ch : {3, 8, 20}) {
    const int64_t n = 2, h = 5, w = 7;
    const auto x = randn(size_t(n * ch * h * w), 11);
    for (ConvLayout from : all)
      for (ConvLayout to : all) {
        const auto xb = to_layout(x, from, n, ch, h, w);
        std::vector<float> yr(size_t(ops::conv_layout_floats(to, n, ch, h, w)), std::nanf(""));
        std::vector<float> yc = yr;
        ref().conv_reorder({xb.data(), n, ch, h, w, from}, {yr.data(), n, ch, h, w, to});
        cpu().conv_reorder({xb.data(), n, ch, h, w, from}, {yc.data(), n, ch, h, w, to});
        EXPECT_EQ(to_nchw(yr, to, n, ch, h, w), x) << "ref " << ops::conv_layout_name(from) << " -> "
                                                   << ops::conv_layout_name(to) << " c " << ch;
        EXPECT_EQ(to_nchw(yc, to, n, ch, h, w), x) << "cpu " << ops::conv_layout_name(from) << " -> "
                                                   << ops::conv_layout_name(to) << " c " << ch;
        if (ops::conv_layout_block(to) > 1) {
          EXPECT_EQ(nonzero_padding(yr, to, n, ch, h, w), 0);
          EXPECT_EQ(nonzero_padding(yc, to, n, ch, h, w), 0);
        }
      }
  }
}

TEST_P(CpuConv, FeatureMapOpsInTheBackendLayout) {
  // The op-level functions: a stem-like layer from plain pixels, pooling in the backend's
  // layout, a residual layer, and the conversion back to NCHW, on both backends.
  const ConvCase stem{3, 3, 18, 18, 12, 3, 2, 1, false, true, false, true};
  const ConvData ds(stem, 21);
  ops::ConvLayer l1;
  l1.weight = Tensor::view(nullptr, ds.weight.data(), DType::F32, {12, 3, 3, 3});
  l1.bn_mean = Tensor::view(nullptr, ds.mean.data(), DType::F32, {12});
  l1.bn_var = Tensor::view(nullptr, ds.var.data(), DType::F32, {12});
  l1.bn_gamma = Tensor::view(nullptr, ds.gamma.data(), DType::F32, {12});
  l1.bn_beta = Tensor::view(nullptr, ds.beta.data(), DType::F32, {12});
  l1.stride = 2, l1.pad = 1, l1.act = ops::Act::kRelu;
  const auto w2 = randn(12 * 12, 22, 0.3f);
  ops::ConvLayer l2;
  l2.weight = Tensor::view(nullptr, w2.data(), DType::F32, {12, 12, 1, 1});
  l2.residual = true;
  l2.act = ops::Act::kRelu;
  const Tensor pixels = Tensor::view(nullptr, ds.x.data(), DType::F32, {3, 3, 18, 18});

  std::vector<float> results[2];
  ops::Backend* backends[2] = {&ref(), &cpu()};
  for (int i = 0; i < 2; ++i) {
    ops::Backend& be = *backends[i];
    ops::ConvLayer a = l1, b = l2;
    a.prepare(be);
    b.prepare(be);
    ops::Workspace ws;
    ops::FeatureMap y1 = ops::alloc_feature_map(ws, be.conv_layout(), 3, 12, 9, 9);
    ops::conv2d(be, a, pixels, y1);
    ops::FeatureMap pooled = ops::alloc_feature_map(ws, be.conv_layout(), 3, 12, 4, 4);
    ops::avgpool(be, y1, 2, pooled);
    ops::FeatureMap y2 = ops::alloc_feature_map(ws, be.conv_layout(), 3, 12, 4, 4);
    ops::reorder(be, pooled, y2);  // the residual: y2 = relu(conv(pooled) + pooled)
    ops::conv2d(be, b, pooled, y2);
    const Tensor out = ops::to_nchw(be, y2);
    results[i].assign(out.data<float>(), out.data<float>() + out.numel());
  }
  EXPECT_LT(rel_err(results[1], results[0]), 2e-6);
}

INSTANTIATE_TEST_SUITE_P(Threads, CpuConv,
                         ::testing::Values(ThreadConfig{cpu::ConvThreading::kPool, 1},
                                           ThreadConfig{cpu::ConvThreading::kPool, 2},
                                           ThreadConfig{cpu::ConvThreading::kPool, 3},
                                           ThreadConfig{cpu::ConvThreading::kOpenMp, 2}),
                         [](const ::testing::TestParamInfo<ThreadConfig>& i) {
                           return std::string(i.param.threading == cpu::ConvThreading::kPool ? "pool"
                                                                                             : "openmp") +
                                  std::to_string(i.param.threads);
                         });

TEST(CpuConvMemory, ChannelGroupsShareTheLayerWeights) {
  // With more pool threads than images, each image's output channels are split into groups;
  // their weights are views into the layer's reordered weights, not copies.
  ThreadPool::set_global_threads(2);
  cpu::set_conv_threading(cpu::ConvThreading::kPool);
  const ConvCase c{1, 64, 9, 9, 64, 3, 1, 1, false, true, false, true};
  const ConvData d(c);
  ops::Backend& cpu = cpu::cpu_backend();
  const auto pc = cpu.prepare_conv(d.spec);
  const ConvLayout fast = cpu.conv_layout();
  const auto got = d.run(cpu, *pc, fast, fast);
  EXPECT_LT(rel_err(got, d.run(ref::ref_backend(), *ref::ref_backend().prepare_conv(d.spec),
                               ConvLayout::kNchw, ConvLayout::kNchw)),
            2e-6);
  EXPECT_EQ(pc->bytes(), size_t(64 * 64 * 9 + 64) * sizeof(float));
  ThreadPool::set_global_threads(0);
}

// ---- bad input ------------------------------------------------------------------------------

TEST(ConvErrors, BadLayersAndShapes) {
  ops::Backend& cpu = cpu::cpu_backend();
  ops::Backend& ref = ref::ref_backend();
  const auto w = randn(8 * 4 * 3 * 3, 1);
  const auto stats = uniform(8, 2, 0.5f, 1.5f);
  ops::ConvLayer l;
  l.weight = Tensor::view(nullptr, w.data(), DType::F32, {8, 4, 3, 3});
  l.pad = 1;

  ops::ConvLayer flat = l;
  flat.weight = Tensor::view(nullptr, w.data(), DType::F32, {8, 36});
  EXPECT_ERROR(flat.prepare(cpu), "contiguous [O, C, KH, KW]");
  ops::ConvLayer partial_bn = l;
  partial_bn.bn_mean = Tensor::view(nullptr, stats.data(), DType::F32, {8});
  EXPECT_ERROR(partial_bn.prepare(cpu), "1 of the 4");
  ops::ConvLayer short_bias = l;
  short_bias.bias = Tensor::view(nullptr, stats.data(), DType::F32, {7});
  EXPECT_ERROR(short_bias.prepare(cpu), "bias");
  ops::ConvLayer gelu = l;
  gelu.act = ops::Act::kGelu;
  EXPECT_ERROR(gelu.prepare(ref), "gelu");
  ops::ConvLayer no_stride = l;
  no_stride.stride = 0;
  EXPECT_ERROR(no_stride.prepare(cpu), "stride");

  ops::Workspace ws;
  ops::ConvLayer unprepared = l;
  ops::FeatureMap x = ops::alloc_feature_map(ws, cpu.conv_layout(), 1, 4, 6, 6);
  ops::FeatureMap y = ops::alloc_feature_map(ws, cpu.conv_layout(), 1, 8, 6, 6);
  EXPECT_ERROR(ops::conv2d(cpu, unprepared, x, y), "not prepared for backend cpu");
  ops::ConvLayer on_ref = l;
  on_ref.prepare(ref);
  EXPECT_ERROR(ops::conv2d(cpu, on_ref, x, y), "not prepared for backend cpu");
  // A layer prepared by one backend handed to another one's kernel directly.
  EXPECT_ERROR(cpu.conv(*on_ref.prepared, std::as_const(x).view(), y.view()), "prepared by another backend");

  ops::ConvLayer good = l;
  good.prepare(cpu);
  ops::FeatureMap x5 = ops::alloc_feature_map(ws, cpu.conv_layout(), 1, 5, 6, 6);
  EXPECT_ERROR(ops::conv2d(cpu, good, x5, y), "expects 4");
  ops::FeatureMap y_small = ops::alloc_feature_map(ws, cpu.conv_layout(), 1, 8, 5, 5);
  EXPECT_ERROR(ops::conv2d(cpu, good, x, y_small), "expected [1, 8, 6, 6]");
  ops::FeatureMap tiny = ops::alloc_feature_map(ws, cpu.conv_layout(), 1, 4, 1, 1);
  ops::ConvLayer unpadded = l;
  unpadded.pad = 0;
  unpadded.prepare(cpu);
  EXPECT_ERROR(ops::conv2d(cpu, unpadded, tiny, y), "does not fit");
  ops::FeatureMap short_storage = y;
  short_storage.storage = ws.alloc({10});
  EXPECT_ERROR(ops::conv2d(cpu, good, x, short_storage), "needs");
  EXPECT_ERROR(ops::conv2d(cpu, good, x, x), "share memory");
  const Tensor pixels3 = Tensor::zeros(DType::F32, {1, 3, 6, 6});
  EXPECT_ERROR(ops::conv2d(cpu, good, pixels3, y), "expects 4");
  const Tensor ints = Tensor::zeros(DType::I32, {1, 4, 6, 6});
  EXPECT_ERROR(ops::conv2d(cpu, good, ints, y), "F32");

  ops::FeatureMap pooled_wrong = ops::alloc_feature_map(ws, cpu.conv_layout(), 1, 4, 2, 2);
  EXPECT_ERROR(ops::avgpool(cpu, x, 2, pooled_wrong), "expected [1, 4, 3, 3]");
  EXPECT_ERROR(ops::avgpool(cpu, x, 7, pooled_wrong), "larger than input");
  ops::FeatureMap other = ops::alloc_feature_map(ws, ConvLayout::kNchw, 1, 5, 6, 6);
  EXPECT_ERROR(ops::reorder(cpu, x, other), "differ");
}

}  // namespace
}  // namespace clipkit
