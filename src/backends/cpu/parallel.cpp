#include "backends/cpu/parallel.h"

#include "core/thread_pool.h"

namespace clipkit::cpu {

namespace {
thread_local bool tls_in_parallel = false;
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (tls_in_parallel || n <= grain) {
    fn(0, n);
    return;
  }
  ThreadPool::global().parallel_for(
      n,
      [&](int64_t b, int64_t e) {
        const bool was = tls_in_parallel;
        tls_in_parallel = true;
        try {
          fn(b, e);
        } catch (...) {
          tls_in_parallel = was;
          throw;
        }
        tls_in_parallel = was;
      },
      grain);
}

}  // namespace clipkit::cpu
