// Threaded batch loading (see batch.h). Work is handed out one file at a time from an atomic
// counter, so a slow file (a large JPEG) does not hold up a whole chunk of the list.
#include "image/batch.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>

#include "core/error.h"
#include "core/thread_pool.h"

namespace clipkit::image {
namespace {

// Messages from the decoder already name the file; others get it prepended.
std::string describe(const std::string& path, const char* what) {
  std::string m = what;
  if (m.find(path) == std::string::npos) m = path + ": " + m;
  return m;
}

void warn_skip(const BatchFailure& f) {
  std::fprintf(stderr, "clipkit: warning: skipping %s\n", f.message.c_str());
}

}  // namespace

Batch load_batch(const std::vector<std::string>& paths, const BatchOptions& opts) {
  const int S = opts.preprocess.crop_size;
  CLIPKIT_CHECK(S > 0 && S <= 16384, "load_batch: crop size ", S, " must be between 1 and 16384");
  const int64_t n = int64_t(paths.size());
  const size_t plane = size_t(3) * S * S;
  Batch b;
  b.pixels = Tensor::empty(DType::F32, {n, 3, S, S});
  if (opts.keep_uint8) b.uint8 = Tensor::empty(DType::U8, {n, S, S, 3});
  std::vector<std::string> errors(paths.size());
  std::vector<uint8_t> failed(paths.size(), 0);

  std::atomic<int64_t> next{0};
  ThreadPool& pool = ThreadPool::global();
  pool.parallel_for(std::min<int64_t>(n, pool.size()), [&](int64_t, int64_t) {
    for (int64_t i = next++; i < n; i = next++) {
      try {
        Image img = decode_file(paths[i], opts.decode);
        const Image crop = preprocess_uint8(img, opts.preprocess);
        img = Image();  // release the decoded pixels before normalising
        normalize_into(crop, opts.preprocess, b.pixels.data<float>() + size_t(i) * plane);
        if (opts.keep_uint8)
          std::memcpy(b.uint8.data<uint8_t>() + size_t(i) * plane, crop.pixels.data(), plane);
      } catch (const std::bad_alloc&) {
        errors[i] = paths[i] + ": out of memory";
        failed[i] = 1;
      } catch (const std::exception& e) {
        errors[i] = describe(paths[i], e.what());
        failed[i] = 1;
      }
    }
  });

  for (size_t i = 0; i < paths.size(); ++i)
    if (failed[i]) b.failures.push_back({i, paths[i], errors[i]});
  if (!b.failures.empty() && !opts.skip_bad) {
    std::string msg = std::to_string(b.failures.size()) + " of " + std::to_string(paths.size()) +
                      " images could not be loaded: ";
    const size_t shown = std::min<size_t>(b.failures.size(), 10);
    for (size_t k = 0; k < shown; ++k) msg += (k ? "; " : "") + b.failures[k].message;
    if (shown < b.failures.size()) msg += "; ...";
    fail(msg);
  }

  // Keep the loaded rows in input order, moving them down over the failed ones.
  int64_t rows = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (failed[i]) continue;
    if (int64_t(i) != rows) {
      std::memmove(b.pixels.data<float>() + size_t(rows) * plane,
                   b.pixels.data<float>() + i * plane, plane * sizeof(float));
      if (opts.keep_uint8)
        std::memmove(b.uint8.data<uint8_t>() + size_t(rows) * plane,
                     b.uint8.data<uint8_t>() + i * plane, plane);
    }
    b.indices.push_back(i);
    b.paths.push_back(paths[i]);
    ++rows;
  }
  if (rows != n) {
    b.pixels = b.pixels.slice(0, 0, rows);
    if (opts.keep_uint8) b.uint8 = b.uint8.slice(0, 0, rows);
  }
  const auto& on_skip = opts.on_skip ? opts.on_skip : std::function<void(const BatchFailure&)>(warn_skip);
  for (const BatchFailure& f : b.failures) on_skip(f);
  return b;
}

}  // namespace clipkit::image
