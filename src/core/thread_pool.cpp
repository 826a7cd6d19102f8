#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace clipkit {

namespace {
// True on a pool's worker threads and on a thread running a parallel_for: a nested parallel_for
// from such a thread runs inline instead of waiting for workers that may be busy with its caller.
thread_local bool t_in_parallel_region = false;

constexpr int kDefaultSpinUs = 100;

// Polls done() for up to `us` microseconds; true when it became true. The pause instruction
// lets the core's sibling hyper-thread run and saves power while polling.
template <typename Done>
bool poll_for(int us, Done done) {
  if (us <= 0) return done();
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
      _mm_pause();
#endif
    }
    if (std::chrono::steady_clock::now() >= until) return done();
  }
}
}  // namespace

ThreadPool::ThreadPool(int threads, int spin_us) {
  if (spin_us < 0) {
    const char* env = std::getenv("CLIPKIT_POOL_SPIN_US");
    spin_us = env ? std::max(0, std::atoi(env)) : kDefaultSpinUs;
  }
  spin_us_ = spin_us;
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;  // under the lock, so that no worker misses the notification below
  }
  cv_work_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop() {
  t_in_parallel_region = true;
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    if (spin_us_ > 0 && generation_ == seen && !stop_) {
      lk.unlock();
      poll_for(spin_us_, [&] { return generation_.load(std::memory_order_acquire) != seen || stop_.load(); });
      lk.lock();
    }
    cv_work_.wait(lk, [&] { return stop_ || (generation_ != seen && next_chunk_ < chunks_); });
    if (stop_) return;
    while (next_chunk_ < chunks_) {
      const int64_t c = next_chunk_++;
      const auto* job = job_;
      const int64_t b = c * job_chunk_, e = std::min(job_n_, b + job_chunk_);
      lk.unlock();
      std::exception_ptr err;
      try {
        (*job)(b, e);
      } catch (...) {
        err = std::current_exception();
      }
      lk.lock();
      if (err && !error_) error_ = err;
      if (++done_chunks_ == chunks_) cv_done_.notify_all();
    }
    seen = generation_;
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn,
                              int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t max_chunks = std::min<int64_t>(size(), (n + grain - 1) / grain);
  if (max_chunks <= 1 || workers_.empty() || t_in_parallel_region) {
    fn(0, n);
    return;
  }
  struct RegionGuard {
    RegionGuard() { t_in_parallel_region = true; }
    ~RegionGuard() { t_in_parallel_region = false; }
  } region;
  std::lock_guard<std::mutex> call_lock(call_mu_);
  std::unique_lock<std::mutex> lk(mu_);
  job_ = &fn;
  job_n_ = n;
  job_chunk_ = (n + max_chunks - 1) / max_chunks;
  chunks_ = (n + job_chunk_ - 1) / job_chunk_;
  next_chunk_ = 0;
  done_chunks_ = 0;
  error_ = nullptr;
  ++generation_;
  cv_work_.notify_all();
  // The caller works too.
  while (next_chunk_ < chunks_) {
    const int64_t c = next_chunk_++;
    const int64_t b = c * job_chunk_, e = std::min(job_n_, b + job_chunk_);
    lk.unlock();
    std::exception_ptr err;
    try {
      fn(b, e);
    } catch (...) {
      err = std::current_exception();
    }
    lk.lock();
    if (err && !error_) error_ = err;
    ++done_chunks_;
  }
  if (done_chunks_ != chunks_ && spin_us_ > 0) {
    const int64_t chunks = chunks_;
    lk.unlock();
    poll_for(spin_us_, [&] { return done_chunks_.load(std::memory_order_acquire) == chunks; });
    lk.lock();
  }
  cv_done_.wait(lk, [&] { return done_chunks_ == chunks_; });
  job_ = nullptr;
  std::exception_ptr err = error_;
  error_ = nullptr;
  lk.unlock();
  if (err) std::rethrow_exception(err);
}

namespace {
std::unique_ptr<ThreadPool>& global_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
std::mutex& global_mu() {
  static std::mutex mu;
  return mu;
}
}  // namespace

ThreadPool& ThreadPool::global() {
  std::lock_guard<std::mutex> lk(global_mu());
  auto& p = global_slot();
  if (!p) {
    int n = 0;
    if (const char* env = std::getenv("CLIPKIT_THREADS")) n = std::atoi(env);
    p = std::make_unique<ThreadPool>(n);
  }
  return *p;
}

void ThreadPool::set_global_threads(int threads) {
  std::lock_guard<std::mutex> lk(global_mu());
  global_slot() = std::make_unique<ThreadPool>(threads);
}

}  // namespace clipkit
