// Micro-benchmarks of the compute kernels on CLIP's shapes.
//
// GEMM: oneDNN vs OpenBLAS on the linear layers of ViT-B/32 (a batch of 32 images = 1600 rows),
// the B-size text tower (one prompt = 77 rows, eight = 616), ViT-L/14 (257 rows) and a 4096^3
// sgemm for the machine's peak. The weight operand is [out, in] read transposed, as nn.Linear
// weights are. Each result carries GFLOP/s. OpenBLAS picks its kernel at load time from the CPU
// (set OPENBLAS_CORETYPE in the environment to override; the detected core is printed in the
// context).
//
// Also the memory-bound kernels of the cpu backend (layernorm, QuickGELU, attention) next to the
// reference ones, for scale.
//
//   build/<dir>/ops_bench --benchmark_filter=Gemm --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true
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

void BM_LayerNorm(benchmark::State& state, bool ref) {
  clipkit::ops::Backend& be = ref ? static_cast<clipkit::ops::Backend&>(clipkit::ref::ref_backend())
                                  : clipkit::cpu::cpu_backend();
  const int64_t rows = 1600, cols = 768;
  const auto x = randn(size_t(rows * cols), 3), g = randn(size_t(cols), 4), b = randn(size_t(cols), 5);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    be.layernorm(x.data(), rows, cols, cols, g.data(), b.data(), 1e-5f, y.data(), cols, nullptr, nullptr);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * rows * cols * 8);
}
BENCHMARK_CAPTURE(BM_LayerNorm, cpu_1600x768, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_LayerNorm, ref_1600x768, true)->UseRealTime();

void BM_QuickGelu(benchmark::State& state, bool ref) {
  clipkit::ops::Backend& be = ref ? static_cast<clipkit::ops::Backend&>(clipkit::ref::ref_backend())
                                  : clipkit::cpu::cpu_backend();
  const int64_t n = 1600 * 3072;
  const auto x = randn(size_t(n), 6);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    be.activation(clipkit::ops::Act::kQuickGelu, x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * n);
}
BENCHMARK_CAPTURE(BM_QuickGelu, cpu_1600x3072, false)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_QuickGelu, ref_1600x3072, true)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_Gelu(benchmark::State& state) {
  auto& be = clipkit::cpu::cpu_backend();
  const int64_t n = 1600 * 3072;
  const auto x = randn(size_t(n), 6);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    be.activation(clipkit::ops::Act::kGelu, x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * n);
}
BENCHMARK(BM_Gelu)->Name("BM_Gelu/cpu_1600x3072")->UseRealTime()->Unit(benchmark::kMillisecond);

// Self-attention of a fused [N*T, 3W] q/k/v buffer: ViT-B/32 x32 (T=50, 12 heads) and the B text
// tower x8 (T=77, 8 heads, causal).
void BM_Attention(benchmark::State& state, int64_t batch, int64_t t, int64_t heads, bool causal) {
  auto& be = clipkit::cpu::cpu_backend();
  const int64_t hd = 64, w = heads * hd;
  const auto qkv = randn(size_t(batch * t * 3 * w), 7);
  std::vector<float> out(size_t(batch * t * w));
  clipkit::ops::AttentionArgs a;
  a.batch = batch, a.heads = heads, a.head_dim = hd, a.q_len = t, a.kv_len = t;
  a.q = qkv.data(), a.k = qkv.data() + w, a.v = qkv.data() + 2 * w;
  a.q_row_stride = a.k_row_stride = a.v_row_stride = 3 * w;
  a.q_batch_stride = a.k_batch_stride = a.v_batch_stride = t * 3 * w;
  a.out = out.data(), a.out_row_stride = w, a.out_batch_stride = t * w;
  a.scale = 0.125f;
  a.causal = causal;
  for (auto _ : state) {
    be.attention(a);
    benchmark::DoNotOptimize(out.data());
  }
  const double flops = 4.0 * double(batch * heads) * double(t) * double(t) * double(hd) * (causal ? 0.5 : 1.0);
  state.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}
BENCHMARK_CAPTURE(BM_Attention, vitb32_x32, 32, 50, 12, false)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Attention, textb_x8_causal, 8, 77, 8, true)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("threads", std::to_string(clipkit::ThreadPool::global().size()));
  register_gemms();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
