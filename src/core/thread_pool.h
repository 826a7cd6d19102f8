// A fixed pool of worker threads shared by preprocessing and compute. parallel_for splits a range
// into contiguous chunks, runs them on the workers and the calling thread, and returns when all
// are done; the first exception thrown by a chunk is rethrown in the caller.
#pragma once

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
  // threads <= 0 means one per hardware thread.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Calls fn(begin, end) over [0, n) in at most size() chunks of at least `grain` items. Called
  // from inside a chunk (nested parallelism), it runs fn(0, n) inline on the calling thread.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

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
  int64_t job_n_ = 0, job_chunk_ = 0, next_chunk_ = 0, chunks_ = 0, done_chunks_ = 0;
  uint64_t generation_ = 0;
  std::exception_ptr error_;
  bool stop_ = false;
  std::mutex call_mu_;  // one parallel_for at a time
};

}  // namespace clipkit
