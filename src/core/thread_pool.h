// A fixed pool of worker threads shared by preprocessing and compute. parallel_for splits a range
// into contiguous chunks, runs them on the workers and the calling thread, and returns when all
// are done; the first exception thrown by a chunk is rethrown in the caller.
//
// Waiting: an idle worker, and a caller waiting for the workers' chunks, first poll for a short
// while (spin_us, default 100 microseconds, pausing the core between polls) and only then sleep
// on a condition variable. A forward pass runs one parallel region after another with gaps far
// shorter than that, and waking a sleeping thread costs tens of microseconds (more on a virtual
// machine), paid on every region otherwise; past the window the pool sleeps, so an idle process
// or a loaded machine loses at most one window of one core per region.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace clipkit {

class ThreadPool {
 public:
  // threads <= 0 means one per hardware thread; spin_us < 0 means the default (or
  // CLIPKIT_POOL_SPIN_US), 0 sleeps at once.
  explicit ThreadPool(int threads = 0, int spin_us = -1);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Calls fn(begin, end) over [0, n) in at most size() chunks of at least `grain` items. Called
  // from inside a chunk (nested parallelism), it runs fn(0, n) inline on the calling thread.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

  int spin_us() const { return spin_us_; }

  // The process-wide pool (created on first use with CLIPKIT_THREADS or the hardware count).
  static ThreadPool& global();
  // Replaces the process-wide pool's size (call before heavy work starts).
  static void set_global_threads(int threads);

 private:
  void worker_loop();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0, job_chunk_ = 0, next_chunk_ = 0, chunks_ = 0;
  // Written under mu_; atomic so that the polling before a sleep may read them without it.
  std::atomic<int64_t> done_chunks_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
  int spin_us_ = 0;
  std::mutex call_mu_;  // one parallel_for at a time
};

}  // namespace clipkit
