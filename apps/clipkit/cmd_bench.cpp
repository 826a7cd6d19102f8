// clipkit bench: times the forward pass (or the model load) on given or random inputs and prints
// one JSON line {"times_ms": [...]}. This is the stable interface other harnesses (bench/compare.py)
// use to time the engine on identical inputs, so its options and output format do not change.
#include <chrono>
#include <cstdio>
#include <random>

#include "backends/cpu/gemm.h"
#include "command.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "io/npy.h"
#include "model/clip_model.h"

namespace clipkit::app {
namespace {

struct BenchArgs {
  std::string model, arch, task = "image", images, tokens, dump, backend = "cpu", gemm = "onednn";
  int batch = 1, warmup = 2, iters = 10, threads = 0;
};

Tensor first_rows(const Tensor& t, int n, const std::string& what) {
  CLIPKIT_CHECK(t.ndim() >= 1 && t.dim(0) >= n, what, " has ", t.ndim() ? t.dim(0) : 0,
                " rows, fewer than --batch ", n);
  return t.slice(0, 0, n);
}

Tensor random_pixels(int n, int size) {
  Tensor t = Tensor::empty(DType::F32, {n, 3, size, size});
  std::mt19937 rng(1234);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

// Full-length prompts (SOT, 75 ordinary tokens, EOT): the tower's worst case.
Tensor random_tokens(int n, int context) {
  Tensor t = Tensor::empty(DType::I32, {n, context});
  std::mt19937 rng(4321);
  std::uniform_int_distribution<int32_t> id(1, 49405);
  int32_t* p = t.data<int32_t>();
  for (int r = 0; r < n; ++r) {
    p[r * context] = 49406;
    for (int c = 1; c + 1 < context; ++c) p[r * context + c] = id(rng);
    p[r * context + context - 1] = 49407;
  }
  return t;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int run_bench(const BenchArgs& a) {
  CLIPKIT_CHECK(a.batch >= 1, "--batch must be at least 1");
  CLIPKIT_CHECK(a.iters >= 1 && a.warmup >= 0, "--iters must be >= 1 and --warmup >= 0");
  if (a.threads > 0) ThreadPool::set_global_threads(a.threads);
  model::ModelOptions opts;
  opts.backend = model::parse_backend_kind(a.backend);
  opts.gemm = cpu::parse_gemm_library(a.gemm.c_str());
  opts.load.arch = a.arch;
  std::vector<double> times;
  if (a.task == "load") {
    for (int i = 0; i < a.warmup + a.iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      model::ClipModel m = model::ClipModel::load(a.model, opts);
      const double ms = ms_since(t0);
      if (i >= a.warmup) times.push_back(ms);
    }
  } else {
    model::ClipModel m = model::ClipModel::load(a.model, opts);
    Tensor input;
    const bool image = a.task == "image";
    CLIPKIT_CHECK(image || a.task == "text", "--task must be load, image or text, not '", a.task, "'");
    if (image) {
      CLIPKIT_CHECK(m.has_vision(), a.model, " has no image tower");
      const int s = m.config().vision->image_size;
      input = a.images.empty() ? random_pixels(a.batch, s)
                               : first_rows(io::read_npy(a.images), a.batch, a.images).contiguous();
      CLIPKIT_CHECK(input.dtype() == DType::F32 && input.ndim() == 4 && input.dim(1) == 3 &&
                        input.dim(2) == s && input.dim(3) == s,
                    "--images must be float32 [N, 3, ", s, ", ", s, "], got ",
                    dtype_name(input.dtype()), " ", shape_str(input.shape()));
    } else {
      CLIPKIT_CHECK(m.has_text(), a.model, " has no text tower");
      const int ctx = m.config().text->context_length;
      input = a.tokens.empty() ? random_tokens(a.batch, ctx)
                               : first_rows(io::read_npy(a.tokens), a.batch, a.tokens).contiguous();
      CLIPKIT_CHECK((input.dtype() == DType::I32 || input.dtype() == DType::I64) &&
                        input.ndim() == 2,
                    "--tokens must be int32 [N, ", ctx, "], got ", dtype_name(input.dtype()), " ",
                    shape_str(input.shape()));
    }
    Tensor embeds;
    for (int i = 0; i < a.warmup + a.iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      embeds = image ? m.encode_image(input).embeds : m.encode_text(input).embeds;
      const double ms = ms_since(t0);
      if (i >= a.warmup) times.push_back(ms);
    }
    if (!a.dump.empty()) io::write_npy(a.dump, embeds);
  }
  std::printf("{\"times_ms\": [");
  for (size_t i = 0; i < times.size(); ++i) std::printf("%s%.4f", i ? ", " : "", times[i]);
  std::printf("]}\n");
  return 0;
}

const Registrar reg{Command{
    "bench",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<BenchArgs>();
      sub.add_option("--model", a->model, "Model folder or weights file")->required();
      sub.add_option("--arch", a->arch, "Architecture preset (ViT-B-32, RN50, ...) overriding the config");
      sub.add_option("--task", a->task, "What to time: load (one full model load per iteration), image or text")
          ->check(CLI::IsMember({"load", "image", "text"}));
      sub.add_option("--batch", a->batch, "Rows per forward pass (the first N rows of the inputs)");
      sub.add_option("--warmup", a->warmup, "Untimed iterations first");
      sub.add_option("--iters", a->iters, "Timed iterations");
      sub.add_option("--threads", a->threads, "Worker threads (default: all cores)");
      sub.add_option("--images", a->images, "float32 [N,3,S,S] normalised pixels (.npy); random when absent");
      sub.add_option("--tokens", a->tokens, "int32 [N,77] token ids (.npy); random full-length prompts when absent");
      sub.add_option("--dump", a->dump, "Write the last pass's unnormalised embeddings [batch, D] as float32 .npy");
      sub.add_option("--backend", a->backend, "Compute backend: cpu (fast) or ref (scalar oracle)");
      sub.add_option("--gemm", a->gemm, "GEMM library of the cpu backend: onednn or openblas");
      return [a] { return run_bench(*a); };
    },
    "Time the forward pass or the model load; prints {\"times_ms\": [...]} as one JSON line",
    "  clipkit bench --model models/vit-b-32 --task image --batch 32 --iters 10\n"
    "  clipkit bench --model m/ --task text --batch 1 --tokens ids.npy --dump text.npy\n"
    "  clipkit bench --model m/ --task load --iters 5\n"}};

}  // namespace
}  // namespace clipkit::app
