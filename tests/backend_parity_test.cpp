// The cpu backend (with each GEMM library) against the reference backend, kernel by kernel, on
// random data and odd shapes (1, 3, 17, 77, 257, ...). The reference accumulates in float64, so
// the differences measured here are the cpu backend's float32 rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
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
using test_util::rel_err;

struct Config {
  cpu::GemmLibrary lib;
  cpu::GemmThreading threading;
};

class Parity : public ::testing::TestWithParam<Config> {
 protected:
  void SetUp() override {
    saved_ = cpu::gemm_threading();
    cpu::set_gemm_threading(GetParam().threading);
  }
  void TearDown() override { cpu::set_gemm_threading(saved_); }
  ops::Backend& ref() { return ref::ref_backend(); }
  ops::Backend& cpu() { return cpu::cpu_backend(GetParam().lib); }

 private:
  cpu::GemmThreading saved_ = cpu::GemmThreading::kPool;
};

TEST_P(Parity, GemmAllTranspositionsAndOddShapes) {
  // Includes products large enough to be split across threads by rows and by columns.
  const int64_t sizes[][3] = {{1, 1, 1},    {3, 17, 5},     {17, 3, 77},  {77, 96, 32},
                              {50, 257, 48}, {257, 33, 1},  {5, 1, 300},  {64, 64, 0},
                              {300, 70, 200}, {5, 1000, 100}, {77, 129, 64}};
  for (const auto& s : sizes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (int use_bias = 0; use_bias < 2; ++use_bias)
          for (float beta : {0.0f, 1.0f, 0.5f}) {
            // Padded leading dimensions catch stride mistakes.
            const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
            auto abuf = randn(size_t((ta ? k : m) * lda + 1), 1);
            auto bbuf = randn(size_t((tb ? n : k) * ldb + 1), 2);
            auto bias = randn(static_cast<size_t>(n), 3);
            const ops::Mat a = ta ? ops::Mat{abuf.data(), m, k, 1, lda} : ops::Mat{abuf.data(), m, k, lda, 1};
            const ops::Mat b = tb ? ops::Mat{bbuf.data(), k, n, 1, ldb} : ops::Mat{bbuf.data(), k, n, ldb, 1};
            auto c0 = randn(size_t(m * ldc), 4);
            auto c_ref = c0, c_cpu = c0;
            ref().gemm(a, b, c_ref.data(), ldc, 0.75f, beta, use_bias ? bias.data() : nullptr);
            cpu().gemm(a, b, c_cpu.data(), ldc, 0.75f, beta, use_bias ? bias.data() : nullptr);
            const double e = rel_err(c_cpu, c_ref);
            EXPECT_LT(e, 1e-5) << "M=" << m << " N=" << n << " K=" << k << " ta=" << ta
                               << " tb=" << tb << " bias=" << use_bias << " beta=" << beta;
          }
  }
}

TEST_P(Parity, ColSum) {
  for (int64_t rows : {1, 3, 77, 257})
    for (int64_t cols : {1, 17, 96}) {
      auto x = randn(size_t(rows * (cols + 1)), 5);
      std::vector<float> a(static_cast<size_t>(cols), 1.0f), b(static_cast<size_t>(cols), 1.0f);
      ref().col_sum(x.data(), rows, cols, cols + 1, a.data(), true);
      cpu().col_sum(x.data(), rows, cols, cols + 1, b.data(), true);
      EXPECT_LT(rel_err(b, a), 1e-5) << rows << "x" << cols;
    }
}

TEST_P(Parity, LayerNorm) {
  for (int64_t rows : {1, 3, 77, 257})
    for (int64_t cols : {1, 3, 17, 32, 768, 1025}) {
      auto x = randn(size_t(rows * cols), 6, 2.0f);
      for (size_t i = 0; i < x.size(); ++i) x[i] += 3.0f;  // an offset mean tests the variance
      auto g = randn(static_cast<size_t>(cols), 7), b = randn(static_cast<size_t>(cols), 8);
      std::vector<float> yr(x.size()), yc(x.size()), mr(static_cast<size_t>(rows)), mc(static_cast<size_t>(rows)),
          sr(static_cast<size_t>(rows)), sc(static_cast<size_t>(rows));
      ref().layernorm(x.data(), rows, cols, cols, g.data(), b.data(), 1e-5f, yr.data(), cols,
                      mr.data(), sr.data());
      cpu().layernorm(x.data(), rows, cols, cols, g.data(), b.data(), 1e-5f, yc.data(), cols,
                      mc.data(), sc.data());
      EXPECT_LT(rel_err(yc, yr), 2e-6) << rows << "x" << cols;
      EXPECT_LT(rel_err(mc, mr), 2e-6);
      EXPECT_LT(rel_err(sc, sr), 2e-6);
    }
}

TEST_P(Parity, LayerNormLargeMeanAndOutlierChannels) {
  // Rows of the kind CLIP's residual stream has: a large common offset (mean 1000, spread 1), and
  // a few channels in the hundreds over unit-scale others. The float32 mean is off by far more
  // than the spread's rounding for such rows unless it is corrected; the variance must not come
  // from a sum of squares minus the squared mean.
  const int64_t rows = 64;
  for (int64_t cols : {512, 768, 1024, 1031}) {
    auto x = randn(size_t(rows * cols), 30);
    for (int64_t r = 0; r < rows; ++r) {
      float* xr = x.data() + r * cols;
      if (r % 2 == 0) {
        for (int64_t c = 0; c < cols; ++c) xr[c] += 1000.0f + 100.0f * float(r);
      } else {
        for (int64_t c = 0; c < cols; c += 97) xr[c] *= 300.0f;
      }
    }
    auto g = randn(static_cast<size_t>(cols), 31), b = randn(static_cast<size_t>(cols), 32);
    std::vector<float> yr(x.size()), yc(x.size()), mr(static_cast<size_t>(rows)),
        mc(static_cast<size_t>(rows)), sr(static_cast<size_t>(rows)), sc(static_cast<size_t>(rows));
    ref().layernorm(x.data(), rows, cols, cols, g.data(), b.data(), 1e-5f, yr.data(), cols,
                    mr.data(), sr.data());
    cpu().layernorm(x.data(), rows, cols, cols, g.data(), b.data(), 1e-5f, yc.data(), cols,
                    mc.data(), sc.data());
    // Per row, relative to the row's largest output, like the model goldens' bar.
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<float> a(yc.begin() + r * cols, yc.begin() + (r + 1) * cols),
          e(yr.begin() + r * cols, yr.begin() + (r + 1) * cols);
      EXPECT_LT(rel_err(a, e), 2e-6) << "row " << r << " of " << cols;
      EXPECT_NEAR(sc[size_t(r)], sr[size_t(r)], 2e-6 * sr[size_t(r)]) << "row " << r;
    }
  }
}

TEST_P(Parity, BatchNormAndRelu) {
  for (int64_t rows : {1, 17, 256})
    for (int64_t ch : {1, 3, 64, 100})
      for (bool relu : {false, true}) {
        auto x = randn(size_t(rows * ch), 9);
        auto mean = randn(static_cast<size_t>(ch), 10), var = randn(static_cast<size_t>(ch), 11);
        for (float& v : var) v = v * v + 0.1f;
        auto g = randn(static_cast<size_t>(ch), 12), b = randn(static_cast<size_t>(ch), 13);
        std::vector<float> yr(x.size()), yc(x.size());
        ref().batchnorm(x.data(), rows, ch, ch, mean.data(), var.data(), g.data(), b.data(), 1e-5f,
                        relu, yr.data(), ch);
        cpu().batchnorm(x.data(), rows, ch, ch, mean.data(), var.data(), g.data(), b.data(), 1e-5f,
                        relu, yc.data(), ch);
        EXPECT_LT(rel_err(yc, yr), 2e-6) << rows << "x" << ch << " relu=" << relu;
      }
}

TEST_P(Parity, ActivationsForwardAndBackward) {
  for (Act act : {Act::kIdentity, Act::kRelu, Act::kQuickGelu, Act::kGelu})
    for (int64_t n : {1, 7, 17, 1000, 100003}) {
      auto x = randn(static_cast<size_t>(n), 14, 4.0f);
      if (n > 100) x[0] = -100.0f, x[1] = 100.0f, x[2] = 0.0f, x[3] = -30.0f;  // tails
      auto dy = randn(static_cast<size_t>(n), 15);
      std::vector<float> yr(x.size()), yc(x.size()), dr(x.size()), dc(x.size());
      ref().activation(act, x.data(), yr.data(), n);
      cpu().activation(act, x.data(), yc.data(), n);
      EXPECT_LT(rel_err(yc, yr), 1e-6) << ops::act_name(act) << " n=" << n;
      ref().activation_backward(act, x.data(), dy.data(), dr.data(), n);
      cpu().activation_backward(act, x.data(), dy.data(), dc.data(), n);
      EXPECT_LT(rel_err(dc, dr), 1e-6) << ops::act_name(act) << " backward n=" << n;
      // In place.
      auto xi = x;
      cpu().activation(act, xi.data(), xi.data(), n);
      EXPECT_EQ(xi, yc);
    }
}

TEST_P(Parity, SoftmaxForwardAndBackward) {
  for (int64_t rows : {1, 3, 77})
    for (int64_t cols : {1, 2, 17, 77, 257}) {
      auto x = randn(size_t(rows * cols), 16, 5.0f);
      auto dy = randn(x.size(), 17);
      std::vector<float> yr(x.size()), yc(x.size()), dr(x.size()), dc(x.size());
      ref().softmax(x.data(), yr.data(), rows, cols);
      cpu().softmax(x.data(), yc.data(), rows, cols);
      EXPECT_LT(rel_err(yc, yr), 2e-6) << rows << "x" << cols;
      ref().softmax_backward(yr.data(), dy.data(), dr.data(), rows, cols);
      cpu().softmax_backward(yr.data(), dy.data(), dc.data(), rows, cols);
      EXPECT_LT(rel_err(dc, dr), 2e-6) << rows << "x" << cols;
    }
}

// How a case's key mask is drawn.
enum class KeyMask {
  kNone,
  kRandom,        // each key kept with probability 3/4, key 0 of item 0 masked
  kPadding,       // item n keeps its first kv_len - 7n keys (right padding, as tokenizers pad)
  kEmptyItem,     // random, and every key of the last item masked
  kLeadingBlock,  // the first 600 keys masked (a whole key block of the online softmax)
};

struct AttnCase {
  int64_t batch, heads, head_dim, q_len, kv_len;
  bool causal;
  KeyMask mask;
};

std::string describe(const AttnCase& c) {
  return "batch " + std::to_string(c.batch) + " heads " + std::to_string(c.heads) + " hd " +
         std::to_string(c.head_dim) + " Tq " + std::to_string(c.q_len) + " Tk " +
         std::to_string(c.kv_len) + (c.causal ? " causal" : "") + " mask " +
         std::to_string(int(c.mask));
}

// Inputs of one attention case: q from a fused [N, Tq, 3W] buffer (the middle third), k and v
// from a fused [N, Tk, 2W+1] buffer (odd row stride), output rows padded to W + 3.
struct AttnInputs {
  std::vector<float> qbuf, kvbuf;
  std::vector<int32_t> mask;
  ops::AttentionArgs args;

  explicit AttnInputs(const AttnCase& c) {
    const int64_t w = c.heads * c.head_dim;
    qbuf = randn(size_t(c.batch * c.q_len * 3 * w), 18);
    kvbuf = randn(size_t(c.batch * c.kv_len * (2 * w + 1)), 19);
    mask.assign(size_t(c.batch * c.kv_len), 1);
    std::mt19937 rng(20);
    if (c.mask == KeyMask::kRandom || c.mask == KeyMask::kEmptyItem) {
      for (auto& m : mask) m = (rng() % 4) != 0;
      mask[0] = 0;  // with causal masking, query 0 of item 0 has no key left
    }
    if (c.mask == KeyMask::kEmptyItem)
      std::fill(mask.end() - c.kv_len, mask.end(), 0);
    if (c.mask == KeyMask::kPadding)
      for (int64_t n = 0; n < c.batch; ++n)
        for (int64_t j = std::max<int64_t>(0, c.kv_len - 7 * n); j < c.kv_len; ++j)
          mask[size_t(n * c.kv_len + j)] = 0;
    if (c.mask == KeyMask::kLeadingBlock)
      for (int64_t n = 0; n < c.batch; ++n)
        for (int64_t j = 0; j < std::min<int64_t>(600, c.kv_len); ++j)
          mask[size_t(n * c.kv_len + j)] = 0;
    ops::AttentionArgs& a = args;
    a.batch = c.batch, a.heads = c.heads, a.head_dim = c.head_dim, a.q_len = c.q_len,
    a.kv_len = c.kv_len;
    a.q = qbuf.data() + w, a.q_row_stride = 3 * w, a.q_batch_stride = c.q_len * 3 * w;
    a.k = kvbuf.data(), a.k_row_stride = 2 * w + 1, a.k_batch_stride = c.kv_len * (2 * w + 1);
    a.v = kvbuf.data() + w + 1, a.v_row_stride = 2 * w + 1, a.v_batch_stride = a.k_batch_stride;
    a.out_row_stride = w + 3, a.out_batch_stride = c.q_len * (w + 3);
    a.scale = 1.0f / std::sqrt(float(c.head_dim));
    a.causal = c.causal;
    a.key_mask = c.mask != KeyMask::kNone ? mask.data() : nullptr;
  }
  size_t out_size() const { return size_t(args.batch * args.out_batch_stride); }
  size_t probs_size() const {
    return size_t(args.batch * args.heads * args.q_len * args.kv_len);
  }
};

// The cpu backend's output and probabilities against the reference; the output without saving
// probabilities must be the same bits.
void check_attention(ops::Backend& ref, ops::Backend& cpu, const AttnCase& c) {
  AttnInputs in(c);
  ops::AttentionArgs a = in.args;
  // Output padding columns start as NaN and must stay untouched.
  std::vector<float> out_r(in.out_size(), std::nanf("")), out_c = out_r, pr(in.probs_size()),
      pc(in.probs_size(), std::nanf(""));
  a.out = out_r.data();
  a.probs = pr.data();
  ref.attention(a);
  a.out = out_c.data();
  a.probs = pc.data();
  cpu.attention(a);
  const int64_t w = c.heads * c.head_dim;
  std::vector<float> vr, vc;  // the output columns only
  for (size_t i = 0; i < out_r.size(); ++i) {
    if (int64_t(i) % (w + 3) < w) {
      vr.push_back(out_r[i]);
      vc.push_back(out_c[i]);
    } else {
      ASSERT_TRUE(std::isnan(out_c[i])) << "padding column written, " << describe(c);
    }
  }
  EXPECT_LT(rel_err(vc, vr), 2e-6) << describe(c);
  EXPECT_LT(rel_err(pc, pr), 2e-6) << describe(c);
  // Rows with no allowed key are exactly zero, as are their probabilities.
  for (size_t i = 0; i < vr.size(); ++i)
    if (vr[i] == 0.0f) {
      ASSERT_EQ(vc[i], 0.0f) << "output " << i << ", " << describe(c);
    }
  for (size_t i = 0; i < pr.size(); ++i)
    if (pr[i] == 0.0f) {
      ASSERT_EQ(pc[i], 0.0f) << "probability " << i << ", " << describe(c);
    }
  std::vector<float> out_np(in.out_size(), std::nanf(""));
  a.out = out_np.data();
  a.probs = nullptr;
  cpu.attention(a);
  for (size_t i = 0; i < out_np.size(); ++i)
    if (!std::isnan(out_c[i])) {
      ASSERT_EQ(out_np[i], out_c[i]) << i << ", " << describe(c);
    }
}

TEST_P(Parity, AttentionFusedLayoutMasksAndProbs) {
  const AttnCase cases[] = {
      {1, 1, 1, 1, 1, false, KeyMask::kNone},       {2, 4, 8, 77, 77, true, KeyMask::kNone},
      {3, 4, 8, 77, 77, true, KeyMask::kRandom},    {2, 3, 16, 17, 17, false, KeyMask::kNone},
      {2, 4, 64, 1, 5, false, KeyMask::kNone},      {1, 2, 5, 3, 257, false, KeyMask::kRandom},
      {2, 12, 64, 50, 50, false, KeyMask::kNone},   {1, 1, 3, 257, 257, true, KeyMask::kNone},
      // The RN50 attention pool: one query over 50 keys, 32 heads.
      {3, 32, 64, 1, 50, false, KeyMask::kNone},
      // Query panels of 8 and 9 (the 8- and 16-wide kernels' edges).
      {2, 2, 64, 8, 8, true, KeyMask::kNone},       {2, 2, 64, 9, 9, true, KeyMask::kRandom},
      // Text towers with right padding, and an item whose keys are all masked.
      {4, 8, 64, 77, 77, true, KeyMask::kPadding},  {3, 2, 32, 40, 40, true, KeyMask::kEmptyItem},
      {3, 2, 32, 40, 40, false, KeyMask::kEmptyItem},
  };
  for (const AttnCase& c : cases) check_attention(ref(), cpu(), c);
}

TEST_P(Parity, AttentionOddHeadDims) {
  // 1..7 (no full vector), 17 (16 + 1), 24 (16 + 8), 80 and 104 (ViT-H/14, ViT-bigG/14).
  for (int64_t hd : {1, 2, 3, 5, 7, 9, 17, 24, 80, 104})
    for (bool causal : {false, true})
      check_attention(ref(), cpu(),
                      {2, 3, hd, 21, 21, causal, causal ? KeyMask::kRandom : KeyMask::kNone});
}

TEST_P(Parity, AttentionLongSequences) {
  const AttnCase cases[] = {
      // Several query tiles of 64, causal: later tiles see more keys.
      {1, 2, 16, 200, 200, true, KeyMask::kNone},
      {2, 2, 8, 150, 150, true, KeyMask::kRandom},
      // ViT-L/14 at 336 px: 577 tokens, two key blocks.
      {1, 2, 64, 577, 577, false, KeyMask::kNone},
      // Several key blocks, causal and not, with the first block entirely masked for every query
      // (the online softmax starts from nothing in the second block).
      {1, 2, 8, 1100, 1100, true, KeyMask::kNone},
      {1, 2, 8, 70, 1300, false, KeyMask::kLeadingBlock},
      {2, 1, 8, 700, 700, true, KeyMask::kLeadingBlock},
      // Fewer queries than keys under causal masking (query i sees keys 0..i).
      {2, 2, 16, 30, 90, true, KeyMask::kRandom},
      // Panels of one or two queries (computed query by query): a causal tail of 2 after a tile
      // of 64, and single queries over several key blocks, the first one masked.
      {2, 2, 16, 66, 66, true, KeyMask::kRandom},
      {2, 3, 8, 1, 1300, false, KeyMask::kLeadingBlock},
      {3, 2, 24, 2, 700, false, KeyMask::kEmptyItem},
      {2, 2, 8, 2, 2, true, KeyMask::kRandom},  // query 0 of item 0 has no key
  };
  for (const AttnCase& c : cases) check_attention(ref(), cpu(), c);
}

TEST(ParityThreads, AttentionSameBitsForAnyThreadCount) {
  const AttnCase cases[] = {{2, 12, 64, 50, 50, false, KeyMask::kNone},
                            {3, 8, 64, 77, 77, true, KeyMask::kPadding},
                            {1, 3, 24, 300, 300, true, KeyMask::kRandom}};
  const int saved = ThreadPool::global().size();
  for (const AttnCase& c : cases) {
    AttnInputs in(c);
    std::vector<float> first;
    for (int threads : {1, 2, 3, 5}) {
      ThreadPool::set_global_threads(threads);
      std::vector<float> out(in.out_size(), 0.0f);
      ops::AttentionArgs a = in.args;
      a.out = out.data();
      cpu::cpu_backend().attention(a);
      if (first.empty()) first = out;
      else EXPECT_EQ(out, first) << threads << " threads, " << describe(c);
    }
  }
  ThreadPool::set_global_threads(saved);
}

TEST_P(Parity, Im2ColNchwAndNhwc) {
  struct C { int64_t n, c, h, w, k, stride, pad; };
  for (const C& s : {C{1, 3, 5, 7, 3, 2, 1}, C{2, 3, 32, 32, 8, 8, 0}, C{3, 4, 17, 17, 3, 1, 1},
                     C{1, 1, 1, 1, 1, 1, 0}, C{2, 5, 9, 6, 2, 2, 0}}) {
    auto x = randn(size_t(s.n * s.c * s.h * s.w), 21);
    for (int nhwc = 0; nhwc < 2; ++nhwc) {
      ops::Im2ColArgs a;
      a.x = x.data(), a.n = s.n, a.c = s.c, a.h = s.h, a.w = s.w;
      if (nhwc) {
        a.stride_n = s.h * s.w * s.c, a.stride_c = 1, a.stride_h = s.w * s.c, a.stride_w = s.c;
      } else {
        a.stride_n = s.c * s.h * s.w, a.stride_c = s.h * s.w, a.stride_h = s.w, a.stride_w = 1;
      }
      a.kh = a.kw = s.k, a.stride = s.stride, a.pad = s.pad;
      std::vector<float> r(size_t(s.n * a.out_h() * a.out_w() * s.c * s.k * s.k), -1.0f), cc = r;
      a.out = r.data();
      ref().im2col(a);
      a.out = cc.data();
      cpu().im2col(a);
      EXPECT_EQ(cc, r);
    }
  }
}

TEST_P(Parity, AvgPool) {
  for (int64_t k : {1, 2, 3})
    for (int64_t hw : {3, 4, 16, 17}) {
      if (hw < k) continue;
      auto x = randn(size_t(2 * hw * hw * 33), 22);
      std::vector<float> r(size_t(2 * (hw / k) * (hw / k) * 33)), c(r.size());
      ref().avgpool_nhwc(x.data(), 2, hw, hw, 33, k, r.data());
      cpu().avgpool_nhwc(x.data(), 2, hw, hw, 33, k, c.data());
      EXPECT_LT(rel_err(c, r), 1e-6) << "k=" << k << " hw=" << hw;
    }
}

TEST_P(Parity, L2NormalizeAndAdd) {
  for (int64_t rows : {1, 6}) {
    for (int64_t cols : {1, 24, 513}) {
      auto x = randn(size_t(rows * cols), 23), y = randn(size_t(rows * cols), 24);
      std::vector<float> r(x.size()), c(x.size());
      ref().l2_normalize(x.data(), rows, cols, r.data());
      cpu().l2_normalize(x.data(), rows, cols, c.data());
      EXPECT_LT(rel_err(c, r), 1e-6);
      ref().add(x.data(), y.data(), r.data(), rows * cols);
      cpu().add(x.data(), y.data(), c.data(), rows * cols);
      EXPECT_EQ(c, r);
    }
  }
}

TEST_P(Parity, InheritedKernelsAgree) {
  // Kernels the cpu backend inherits (backward passes, contrastive loss) must still be reachable.
  auto img = randn(4 * 24, 25), txt = randn(4 * 24, 26);
  std::vector<float> lr(16), lc(16);
  const double a = ref().contrastive_loss(img.data(), txt.data(), 4, 24, 2.3f, lr.data());
  const double b = cpu().contrastive_loss(img.data(), txt.data(), 4, 24, 2.3f, lc.data());
  EXPECT_NEAR(a, b, 1e-6 * std::fabs(a));
  EXPECT_LT(rel_err(lc, lr), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(
    Libraries, Parity,
    ::testing::Values(Config{cpu::GemmLibrary::kOneDnn, cpu::GemmThreading::kPool},
                      Config{cpu::GemmLibrary::kOpenBlas, cpu::GemmThreading::kPool},
                      Config{cpu::GemmLibrary::kOneDnn, cpu::GemmThreading::kLibrary},
                      Config{cpu::GemmLibrary::kOpenBlas, cpu::GemmThreading::kLibrary}),
    [](const ::testing::TestParamInfo<Config>& i) {
      return std::string(cpu::gemm_library_name(i.param.lib)) +
             (i.param.threading == cpu::GemmThreading::kPool ? "_pool" : "_library");
    });

}  // namespace
}  // namespace clipkit
