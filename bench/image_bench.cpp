// Image preprocessing throughput.
//
// Google Benchmark micro-benchmarks (single thread, images/s as items_per_second):
//   Resize/<mode>/<in>-><out>    Pillow-exact resize of a synthetic (noise) image, the whole result
//   ResizeWindow/rgb             the same resize, only the centre crop computed (what preprocess does)
//   TorchAA/rgb                  torch's antialiased uint8 resize (transformers' CLIPImageProcessor)
//   Preprocess/<file>            decode + resize + crop + convert + normalise of a fixture photo
//
//   build/<dir>/image_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Comparison mode, driven by bench/preprocess_vs_pillow.py (which runs Pillow on the same files,
// interleaved): decode + resize (shorter side to S, bicubic) + centre crop + convert("RGB") of
// every file, `loops` times, with `threads` workers; prints one JSON line with the seconds.
//
//   build/<dir>/image_bench compare --size 224 --threads 1 --loops 3 a.jpg b.png ...
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "image/decode.h"
#include "image/preprocess.h"
#include "image/resample.h"

namespace ci = clipkit::image;

namespace {

ci::Image noise_image(ci::Mode mode, int w, int h) {
  ci::Image img;
  img.mode = mode;
  img.width = w;
  img.height = h;
  img.pixels.resize(size_t(w) * h * img.channels());
  uint32_t s = 12345;
  for (auto& p : img.pixels) {
    s = s * 1664525u + 1013904223u;
    p = uint8_t(s >> 24);
  }
  return img;
}

void Resize(benchmark::State& st, ci::Mode mode, int iw, int ih, int ow, int oh, ci::Filter f) {
  const ci::Image img = noise_image(mode, iw, ih);
  for (auto _ : st) benchmark::DoNotOptimize(ci::resize(img, ow, oh, f).pixels.data());
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK_CAPTURE(Resize, rgb/640x427->335x224, ci::Mode::kRGB, 640, 427, 335, 224,
                  ci::Filter::kBicubic);
BENCHMARK_CAPTURE(Resize, rgb/1920x1280->336x224, ci::Mode::kRGB, 1920, 1280, 336, 224,
                  ci::Filter::kBicubic);
BENCHMARK_CAPTURE(Resize, rgb/4000x3000->298x224, ci::Mode::kRGB, 4000, 3000, 298, 224,
                  ci::Filter::kBicubic);
BENCHMARK_CAPTURE(Resize, rgba/640x427->335x224, ci::Mode::kRGBA, 640, 427, 335, 224,
                  ci::Filter::kBicubic);
BENCHMARK_CAPTURE(Resize, l/512x512->224x224, ci::Mode::kL, 512, 512, 224, 224,
                  ci::Filter::kBicubic);
BENCHMARK_CAPTURE(Resize, rgb_lanczos/1920x1280->336x224, ci::Mode::kRGB, 1920, 1280, 336, 224,
                  ci::Filter::kLanczos);

void ResizeWindow(benchmark::State& st) {
  const ci::Image img = noise_image(ci::Mode::kRGB, 1920, 1280);
  for (auto _ : st)
    benchmark::DoNotOptimize(
        ci::resize_window(img, 336, 224, ci::Filter::kBicubic, nullptr, {56, 0, 224, 224})
            .pixels.data());
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(ResizeWindow)->Name("ResizeWindow/rgb/1920x1280->336x224[56:280]");

void TorchAA(benchmark::State& st) {
  const ci::Image img = noise_image(ci::Mode::kRGB, 1920, 1280);
  for (auto _ : st)
    benchmark::DoNotOptimize(
        ci::resize_torch_antialias(img, 336, 224, ci::Filter::kBicubic).pixels.data());
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(TorchAA)->Name("TorchAA/rgb/1920x1280->336x224");

void Preprocess(benchmark::State& st, const char* file) {
  const std::string path = std::string(CLIPKIT_TEST_DATA) + "/images/" + file;
  const ci::PreprocessOptions o;
  for (auto _ : st) benchmark::DoNotOptimize(ci::preprocess_file(path, o).pixels.raw());
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK_CAPTURE(Preprocess, rocket.jpg, "rocket.jpg");
BENCHMARK_CAPTURE(Preprocess, chelsea.png, "chelsea.png");
BENCHMARK_CAPTURE(Preprocess, motorcycle_portrait.jpg, "motorcycle_portrait.jpg");

// decode + resize + crop + convert("RGB") of one file: the work Pillow does in the comparison.
size_t load_one(const std::string& path, const ci::PreprocessOptions& o) {
  const ci::Image img = ci::decode_file(path);
  return ci::preprocess_uint8(img, o).pixels.size();
}

int compare_main(int argc, char** argv) {
  int size = 224, threads = 1, loops = 1;
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--size" || a == "--threads" || a == "--loops") && i + 1 < argc) {
      const int v = std::atoi(argv[++i]);
      (a == "--size" ? size : a == "--threads" ? threads : loops) = v;
    } else {
      files.push_back(a);
    }
  }
  CLIPKIT_CHECK(!files.empty() && size > 0 && threads > 0 && loops > 0,
                "usage: image_bench compare [--size S] [--threads T] [--loops L] FILE...");
  ci::PreprocessOptions o;
  o.size = o.crop_size = size;
  clipkit::ThreadPool::set_global_threads(threads);
  clipkit::ThreadPool& pool = clipkit::ThreadPool::global();
  const int64_t n = int64_t(files.size()) * loops;
  for (const auto& f : files) load_one(f, o);  // warm the file cache and the weight tables
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<int64_t> next{0};
  std::atomic<size_t> bytes{0};
  pool.parallel_for(std::min<int64_t>(n, pool.size()), [&](int64_t, int64_t) {
    size_t local = 0;
    for (int64_t i = next++; i < n; i = next++) local += load_one(files[size_t(i) % files.size()], o);
    bytes += local;
  });
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"images\": %lld, \"seconds\": %.6f, \"threads\": %d, \"bytes\": %zu}\n",
              static_cast<long long>(n), sec, pool.size(), bytes.load());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "compare") == 0) {
    try {
      return compare_main(argc, argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "image_bench: %s\n", e.what());
      return 1;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
