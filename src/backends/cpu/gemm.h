// Single-precision GEMM through a tuned library: oneDNN (dnnl_sgemm) or OpenBLAS (cblas_sgemm).
// Both were measured on CLIP's shapes (bench/ops_bench.cpp; figures in src/backends/cpu/README.md)
// and oneDNN is the default. The library's own threads are set to the size of
// ThreadPool::global(), so the GEMM and the pool's elementwise kernels use the same cores.
#pragma once

#include <cstdint>

#include "ops/backend.h"

namespace clipkit::cpu {

enum class GemmLibrary { kOneDnn, kOpenBlas };
const char* gemm_library_name(GemmLibrary lib);
// Parses "onednn"/"dnnl" or "openblas"; throws Error otherwise.
GemmLibrary parse_gemm_library(const char* name);

// c = alpha * a b + beta * c + bias (see ops::Backend::gemm). Handles empty shapes and K = 0.
void sgemm(GemmLibrary lib, const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc,
           float alpha, float beta, const float* bias);

// The same product on the calling thread only, for kernels that already run one task per pool
// thread (attention's per-head products). oneDNN is made single-threaded for the calling thread;
// OpenBLAS's thread count is process-wide, so while it is above one (library threading) the
// product goes to oneDNN instead. No bias.
void sgemm_serial(GemmLibrary lib, const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc,
                  float alpha, float beta);

// How a GEMM uses several cores:
//  kPool:    the product is split into row (or column) blocks run on ThreadPool::global(), each
//            block one single-threaded library call. The pool's workers sleep when idle, so this
//            behaves well on a loaded or shared machine, and all compute shares one set of threads.
//  kLibrary: one call, threaded by the library itself (oneDNN: OpenMP, whose idle threads spin;
//            OpenBLAS: its own pthreads), with the library's thread count set to the pool's size.
enum class GemmThreading { kPool, kLibrary };
GemmThreading gemm_threading();
// Process-wide; the initial value comes from CLIPKIT_GEMM_THREADING=pool|library (default pool).
void set_gemm_threading(GemmThreading t);

// Sets the thread count of both libraries for calls made from the calling thread (OpenMP's
// setting is per thread) and the process (OpenBLAS).
void set_gemm_threads(int threads);

}  // namespace clipkit::cpu
