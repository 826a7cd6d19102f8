// The linear layer of the cpu backend (ops::Backend::linear) by weight precision on CLIP's shapes:
// float32 weights, 16-bit weights widened on the fly, int8 weights with per-token activation
// quantisation. Each result carries GFLOP/s (2 per multiply-add; for int8 these are integer
// operations), so the rows compare directly with the float32 sgemm peak of ops_bench
// (--benchmark_filter=Gemm.*Peak).
//
//   build/release/linear_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "core/dtype.h"

namespace {

using clipkit::DType;
using clipkit::ops::Act;

struct Weights {
  std::vector<float> f32;
  std::vector<uint16_t> half;
  std::vector<int8_t> q;
  std::vector<float> scale;
};

Weights make_weights(int64_t n, int64_t k, DType dt) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0f, 0.02f);
  Weights w;
  w.f32.resize(size_t(n * k));
  for (float& v : w.f32) v = d(rng);
  if (dt == DType::F16 || dt == DType::BF16) {
    w.half.resize(w.f32.size());
    for (size_t i = 0; i < w.f32.size(); ++i)
      w.half[i] = dt == DType::F16 ? clipkit::f32_to_f16(w.f32[i]) : clipkit::f32_to_bf16(w.f32[i]);
  }
  if (dt == DType::I8) {
    w.q.resize(w.f32.size());
    w.scale.resize(size_t(n));
    for (int64_t r = 0; r < n; ++r) {
      float mx = 0;
      for (int64_t c = 0; c < k; ++c) mx = std::max(mx, std::fabs(w.f32[size_t(r * k + c)]));
      w.scale[size_t(r)] = mx > 0 ? mx / 127.0f : 1.0f;
      for (int64_t c = 0; c < k; ++c)
        w.q[size_t(r * k + c)] = int8_t(std::nearbyint(w.f32[size_t(r * k + c)] / w.scale[size_t(r)]));
    }
  }
  return w;
}

void BM_Linear(benchmark::State& state, DType dt, Act act, bool residual, int64_t m, int64_t n,
               int64_t k) {
  auto& be = clipkit::cpu::cpu_backend();
  const Weights w = make_weights(n, k, dt);
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(size_t(m * k)), y(size_t(m * n)), bias(size_t(n), 0.01f);
  for (float& v : x) v = d(rng);
  clipkit::ops::WeightRef ref;
  ref.dtype = dt;
  ref.rows = n;
  ref.cols = k;
  ref.row_stride = k;
  ref.col_stride = 1;
  ref.data = dt == DType::F32 ? static_cast<const void*>(w.f32.data())
             : dt == DType::I8 ? static_cast<const void*>(w.q.data())
                               : static_cast<const void*>(w.half.data());
  ref.scale = dt == DType::I8 ? w.scale.data() : nullptr;
  const auto prepared = be.prepare_linear(ref);
  clipkit::ops::LinearArgs a;
  a.x = x.data();
  a.m = m;
  a.ldx = k;
  a.w = ref;
  a.prepared = prepared.get();
  a.bias = bias.data();
  a.act = act;
  a.accumulate = residual;
  a.y = y.data();
  a.ldy = n;
  be.linear(a);  // warm-up: threads, scratch buffers
  for (auto _ : state) {
    be.linear(a);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

struct Shape {
  const char* name;
  int64_t m, n, k;
  Act act;
  bool residual;  // y += x W^T + b, as the model runs out_proj and fc2
};

// ViT-B/32: 50 tokens per image (batch 1 and 32); the fc1 layer carries QuickGELU, fc2 adds into
// the residual stream.
const Shape kShapes[] = {
    {"vitb32_b1_qkv", 50, 2304, 768, Act::kIdentity, false},
    {"vitb32_b1_fc1", 50, 3072, 768, Act::kQuickGelu, false},
    {"vitb32_b1_fc2", 50, 768, 3072, Act::kIdentity, true},
    {"vitb32_b32_qkv", 1600, 2304, 768, Act::kIdentity, false},
    {"vitb32_b32_fc1", 1600, 3072, 768, Act::kQuickGelu, false},
    {"vitb32_b32_fc2", 1600, 768, 3072, Act::kIdentity, true},
    {"text_b1_fc1", 77, 2048, 512, Act::kQuickGelu, false},
    {"vitl14_b1_fc1", 257, 4096, 1024, Act::kQuickGelu, false},
};

const struct {
  const char* name;
  DType dt;
} kTypes[] = {{"f32", DType::F32}, {"f16", DType::F16}, {"bf16", DType::BF16}, {"int8", DType::I8}};

int register_all() {
  for (const auto& t : kTypes)
    for (const Shape& s : kShapes)
      benchmark::RegisterBenchmark((std::string("Linear/") + t.name + "/" + s.name).c_str(), BM_Linear,
                                   t.dt, s.act, s.residual, s.m, s.n, s.k)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
