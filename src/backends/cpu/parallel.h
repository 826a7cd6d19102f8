// parallel_for over ThreadPool::global() for the cpu kernels: runs inline when the range is small
// or when already inside a parallel region of this helper (the pool takes one job at a time, so a
// nested call must not wait for it).
#pragma once

#include <cstdint>
#include <functional>

namespace clipkit::cpu {

// fn(begin, end) over [0, n) in chunks of at least `grain` items.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Grain for rows of `cols` floats so that each chunk holds about 32K elements of work.
inline int64_t row_grain(int64_t cols) {
  const int64_t g = (int64_t(1) << 15) / (cols > 0 ? cols : 1);
  return g > 0 ? g : 1;
}

}  // namespace clipkit::cpu
