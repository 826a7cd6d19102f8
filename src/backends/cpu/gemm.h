// Single-precision GEMM through a tuned library: oneDNN (dnnl_sgemm) or OpenBLAS (cblas_sgemm).
// Both were measured on CLIP's shapes (bench/ops_bench.cpp; figures in src/backends/cpu/README.md)
// and oneDNN is the default. The library's own threads are set to the size of
// ThreadPool::global(), so the GEMM and the pool's elementwise kernels use the same cores.
#pragma once

#include <cstdint>
#include <functional>

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
// thread (the per-block products of the linear layer). oneDNN is made single-threaded for the calling thread;
// OpenBLAS's thread count is process-wide, so while it is above one (library threading) the
// product goes to oneDNN instead. No bias.
void sgemm_serial(GemmLibrary lib, const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc,
                  float alpha, float beta);

// c[m, n] = sum_k a[m, k] * b[n, k] over uint8 a [M, K] (row stride lda) and int8 b [N, K] (row
// stride ldb), exact in int32, c row stride ldc; on the calling thread only. oneDNN's AVX2 kernel
// multiplies u8 x s8 pairs into int16 with saturation, so callers keep a below 128 (see
// ops::Backend::linear).
void igemm_u8s8_serial(const uint8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c,
                       int64_t ldc, int64_t m, int64_t n, int64_t k);

// Splits an [m, n] output computed over inner dimension k into blocks, one per pool thread, the way
// sgemm does (rows, or columns when they are fewer), and runs fn(r0, r1, c0, c1) for each block on
// its thread. Small products run as one block on the calling thread.
void for_each_gemm_block(int64_t m, int64_t n, int64_t k,
                         const std::function<void(int64_t, int64_t, int64_t, int64_t)>& fn);

// How a GEMM uses several cores:
//  kPool:    the product is split into row (or column) blocks run on ThreadPool::global(), each
//            block one single-threaded library call. The pool's workers sleep when idle (after a
//            100-microsecond poll), so this behaves well on a loaded or shared machine, and all
//            compute shares one set of threads.
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
