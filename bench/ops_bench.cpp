// Micro-benchmarks of the compute kernels on CLIP's shapes.
//
// GEMM: oneDNN vs OpenBLAS on the linear layers of ViT-B/32 (a batch of 32 images = 1600 rows),
// the B-size text tower (one prompt = 77 rows, eight = 616), ViT-L/14 (257 rows) and a 4096^3
// sgemm for the machine's peak. The weight operand is [out, in] read transposed, as nn.Linear
// weights are. Each result carries GFLOP/s. OpenBLAS picks its kernel at load time from the CPU
// (set OPENBLAS_CORETYPE in the environment to override; the detected core is printed in the
// context).
//
// Also the memory-bound kernels of the cpu backend (layernorm, activations, attention on the
// towers' shapes), some next to the reference ones for scale.
//
//   build/<dir>/ops_bench --benchmark_filter=Gemm --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
//   build/<dir>/ops_bench --benchmark_filter='Attention|LayerNorm|Activation'
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/ref/ref_backend.h"
#include "core/thread_pool.h"

namespace {

using clipkit::cpu::GemmLibrary;
using clipkit::cpu::GemmThreading;

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// y[M, N] = x[M, K] W^T with W [N, K].
void BM_Gemm(benchmark::State& state, GemmLibrary lib, GemmThreading threading, int64_t m,
             int64_t n, int64_t k) {
  auto& be = clipkit::cpu::cpu_backend(lib);
  clipkit::cpu::set_gemm_threading(threading);
  const auto x = randn(size_t(m * k), 1), w = randn(size_t(n * k), 2);
  std::vector<float> y(size_t(m * n));
  const clipkit::ops::Mat a = clipkit::ops::Mat::rows_of(x.data(), m, k, k);
  const clipkit::ops::Mat b = clipkit::ops::Mat::rows_of(w.data(), n, k, k).t();
  be.gemm(a, b, y.data(), n, 1.0f, 0.0f, nullptr);  // warm-up (thread start, packing buffers)
  for (auto _ : state) {
    be.gemm(a, b, y.data(), n, 1.0f, 0.0f, nullptr);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  clipkit::cpu::set_gemm_threading(GemmThreading::kPool);
}

struct GemmShape {
  const char* name;
  int64_t m, n, k;
};

const GemmShape kShapes[] = {
    {"vitb32_x32_qkv", 1600, 2304, 768},   {"vitb32_x32_out", 1600, 768, 768},
    {"vitb32_x32_fc1", 1600, 3072, 768},   {"vitb32_x32_fc2", 1600, 768, 3072},
    {"textb_x1_qkv", 77, 1536, 512},       {"textb_x1_fc1", 77, 2048, 512},
    {"textb_x1_fc2", 77, 512, 2048},       {"textb_x8_fc1", 616, 2048, 512},
    {"textb_x8_fc2", 616, 512, 2048},      {"vitl14_x1_fc1", 257, 4096, 1024},
    {"vitl14_x1_fc2", 257, 1024, 4096},    {"peak_4096", 4096, 4096, 4096},
};

// Gemm/<shape>/<library>/<threading>: threading "pool" splits the product over ThreadPool::global()
// with single-threaded library calls (the default), "library" lets the library thread one call.
// Candidates of one shape are registered next to each other so they run close in time.
void register_gemms() {
  for (const GemmShape& s : kShapes)
    for (GemmThreading th : {GemmThreading::kPool, GemmThreading::kLibrary})
      for (GemmLibrary lib : {GemmLibrary::kOneDnn, GemmLibrary::kOpenBlas}) {
        const std::string name = std::string("Gemm/") + s.name + "/" +
                                 clipkit::cpu::gemm_library_name(lib) +
                                 (th == GemmThreading::kPool ? "/pool" : "/library");
        auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_Gemm, lib, th, s.m, s.n, s.k);
        b->Unit(benchmark::kMillisecond)->UseRealTime();
      }
}

clipkit::ops::Backend& backend(bool ref) {
  return ref ? static_cast<clipkit::ops::Backend&>(clipkit::ref::ref_backend())
             : clipkit::cpu::cpu_backend();
}

// LayerNorm over the residual stream: ViT-B/32 x32 (1600 x 768), the B text tower x1 and x32
// (77 and 2464 rows of 512), ViT-L/14 x1 (257 x 1024).
void BM_LayerNorm(benchmark::State& state, bool ref, int64_t rows, int64_t cols) {
  clipkit::ops::Backend& be = backend(ref);
  const auto x = randn(size_t(rows * cols), 3);
  const auto g = randn(size_t(cols), 4), b = randn(size_t(cols), 5);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    be.layernorm(x.data(), rows, cols, cols, g.data(), b.data(), 1e-5f, y.data(), cols, nullptr,
                 nullptr);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * rows * cols * 8);
}
BENCHMARK_CAPTURE(BM_LayerNorm, cpu_1600x768, false, 1600, 768)->UseRealTime();
BENCHMARK_CAPTURE(BM_LayerNorm, ref_1600x768, true, 1600, 768)->UseRealTime();
BENCHMARK_CAPTURE(BM_LayerNorm, cpu_77x512, false, 77, 512)->UseRealTime();
BENCHMARK_CAPTURE(BM_LayerNorm, cpu_2464x512, false, 2464, 512)->UseRealTime();
BENCHMARK_CAPTURE(BM_LayerNorm, cpu_257x1024, false, 257, 1024)->UseRealTime();

// Pointwise activations on an MLP hidden layer (ViT-B/32 x32: 1600 x 3072; text x1: 77 x 2048).
void BM_Activation(benchmark::State& state, bool ref, clipkit::ops::Act act, int64_t n) {
  clipkit::ops::Backend& be = backend(ref);
  const auto x = randn(size_t(n), 6);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    be.activation(act, x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * n);
}
using clipkit::ops::Act;
BENCHMARK_CAPTURE(BM_Activation, QuickGelu/cpu_1600x3072, false, Act::kQuickGelu, 1600 * 3072)
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Activation, QuickGelu/ref_1600x3072, true, Act::kQuickGelu, 1600 * 3072)
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Activation, Gelu/cpu_1600x3072, false, Act::kGelu, 1600 * 3072)
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Activation, Gelu/cpu_77x2048, false, Act::kGelu, 77 * 2048)
    ->UseRealTime()->Unit(benchmark::kMicrosecond);

// Multi-head attention with head_dim 64, laid out as the model lays it out:
//  - self-attention (q_len == kv_len): q, k, v are column blocks of one fused [N*T, 3W] buffer;
//  - the RN50 attention pool (q_len 1): q [N, 1, W], k and v [N, T, W], separate buffers.
// GFLOP/s counts the two products (4 T_q T_k hd per head; half of it under a causal mask).
void BM_Attention(benchmark::State& state, int64_t batch, int64_t tq, int64_t tk, int64_t heads,
                  bool causal) {
  auto& be = clipkit::cpu::cpu_backend();
  const int64_t hd = 64, w = heads * hd;
  clipkit::ops::AttentionArgs a;
  a.batch = batch, a.heads = heads, a.head_dim = hd, a.q_len = tq, a.kv_len = tk;
  std::vector<float> qkv, q, kv;
  if (tq == tk) {
    qkv = randn(size_t(batch * tk * 3 * w), 7);
    a.q = qkv.data(), a.k = qkv.data() + w, a.v = qkv.data() + 2 * w;
    a.q_row_stride = a.k_row_stride = a.v_row_stride = 3 * w;
    a.q_batch_stride = a.k_batch_stride = a.v_batch_stride = tk * 3 * w;
  } else {
    q = randn(size_t(batch * tq * w), 7);
    kv = randn(size_t(2 * batch * tk * w), 8);
    a.q = q.data(), a.q_row_stride = w, a.q_batch_stride = tq * w;
    a.k = kv.data(), a.k_row_stride = w, a.k_batch_stride = tk * w;
    a.v = kv.data() + batch * tk * w, a.v_row_stride = w, a.v_batch_stride = tk * w;
  }
  std::vector<float> out(size_t(batch * tq * w));
  a.out = out.data(), a.out_row_stride = w, a.out_batch_stride = tq * w;
  a.scale = 0.125f;
  a.causal = causal;
  for (auto _ : state) {
    be.attention(a);
    benchmark::DoNotOptimize(out.data());
  }
  const double flops =
      4.0 * double(batch * heads) * double(tq) * double(tk) * double(hd) * (causal ? 0.5 : 1.0);
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

struct AttentionShape {
  const char* name;
  int64_t tq, tk, heads;
  bool causal;
};

const AttentionShape kAttentionShapes[] = {
    {"vitb32", 50, 50, 12, false},      {"vitl14", 257, 257, 16, false},
    {"vitl14_336", 577, 577, 16, false}, {"text_h8", 77, 77, 8, true},
    {"text_h12", 77, 77, 12, true},     {"text_h16", 77, 77, 16, true},
    {"text_h20", 77, 77, 20, true},     {"rn50_pool", 1, 50, 32, false},
};

// Attention/<shape>/x<batch>, batch 1 and 32 (1 only for ViT-L/14 at 336 px: 2.7 GFLOP per call
// at batch 32).
void register_attention() {
  for (const AttentionShape& s : kAttentionShapes)
    for (int64_t batch : {1, 32}) {
      if (batch > 1 && s.tq > 512) continue;
      const std::string name = std::string("Attention/") + s.name + "/x" + std::to_string(batch);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_Attention, batch, s.tq, s.tk, s.heads,
                                             s.causal);
      b->Unit(benchmark::kMicrosecond)->UseRealTime();
    }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("threads", std::to_string(clipkit::ThreadPool::global().size()));
  register_gemms();
  register_attention();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
