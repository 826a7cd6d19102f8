#include "backends/cpu/gemm.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "backends/cpu/openmp.h"
#include "backends/cpu/parallel.h"
#include "core/thread_pool.h"

namespace clipkit::cpu {

const char* gemm_library_name(GemmLibrary lib) {
  return lib == GemmLibrary::kOneDnn ? "onednn" : "openblas";
}

GemmLibrary parse_gemm_library(const char* name) {
  const std::string_view n(name);
  if (n == "onednn" || n == "dnnl" || n == "oneDNN") return GemmLibrary::kOneDnn;
  if (n == "openblas" || n == "OpenBLAS") return GemmLibrary::kOpenBlas;
  fail("unknown GEMM library '", n, "' (expected onednn or openblas)");
}

namespace {


thread_local int tls_gemm_threads = 0;
std::atomic<int> process_openblas_threads{0};  // OpenBLAS's setting is process-wide

// oneDNN registers every kernel it generates with profilers (VTune's JIT API) by default, which
// costs several percent of the first forward pass; clipkit does not use that.
void configure_onednn_once() {
  static const bool configured = [] {
    dnnl_set_jit_profiling_flags(0);
    return true;
  }();
  (void)configured;
}

void ensure_threads(int want) {
  if (tls_gemm_threads == 0) configure_onednn_once();
  if (tls_gemm_threads != want) {
    if (auto fn = omp_set_num_threads_fn()) fn(want);
    tls_gemm_threads = want;
  }
}

GemmThreading initial_threading() {
  const char* env = std::getenv("CLIPKIT_GEMM_THREADING");
  if (env && std::string_view(env) == "library") return GemmThreading::kLibrary;
  return GemmThreading::kPool;
}

std::atomic<GemmThreading>& threading_mode() {
  static std::atomic<GemmThreading> mode{initial_threading()};
  return mode;
}

// BLAS operand for a matrix view: row-major with its transposition flag and leading dimension.
struct Operand {
  bool trans;
  int64_t ld;
};
Operand operand(const ops::Mat& m) {
  if (m.col_stride == 1) return {false, std::max<int64_t>(m.row_stride, std::max<int64_t>(1, m.cols))};
  if (m.row_stride == 1) return {true, std::max<int64_t>(m.col_stride, std::max<int64_t>(1, m.rows))};
  fail("gemm: operand with strides [", m.row_stride, ", ", m.col_stride, "] has no unit stride");
}

void add_bias_rows(float* c, int64_t m, int64_t n, int64_t ldc, const float* bias) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) row[j] += bias[j];
  }
}

}  // namespace

void set_gemm_threads(int threads) {
  threads = std::max(1, threads);
  if (auto fn = omp_set_num_threads_fn()) fn(threads);
  openblas_set_num_threads(threads);
  process_openblas_threads = threads;
  tls_gemm_threads = threads;
}

GemmThreading gemm_threading() { return threading_mode().load(); }
void set_gemm_threading(GemmThreading t) { threading_mode().store(t); }

namespace {

// One library call on the calling thread's current thread setting.
void call_library(GemmLibrary lib, const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc,
                  float alpha, float beta) {
  const int64_t m = a.rows, n = b.cols, k = a.cols;
  const Operand oa = operand(a), ob = operand(b);
  if (lib == GemmLibrary::kOneDnn) {
    const dnnl_status_t st = dnnl_sgemm(oa.trans ? 'T' : 'N', ob.trans ? 'T' : 'N', m, n, k, alpha,
                                        a.data, oa.ld, b.data, ob.ld, beta, c, ldc);
    CLIPKIT_CHECK(st == dnnl_success, "gemm: oneDNN sgemm failed with status ", int(st), " for M=",
                  m, " N=", n, " K=", k);
  } else {
    cblas_sgemm(CblasRowMajor, oa.trans ? CblasTrans : CblasNoTrans,
                ob.trans ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), blasint(k), alpha,
                a.data, blasint(oa.ld), b.data, blasint(ob.ld), beta, c, blasint(ldc));
  }
}

// Rows (or columns) of C per block: whole multiples of the libraries' register tiles.
constexpr int64_t kRowAlign = 16, kColAlign = 64;
// Below this many multiply-adds a GEMM runs on one thread: waking the pool costs more.
constexpr double kParallelMinMacs = 1 << 18;

void pooled_gemm(GemmLibrary lib, const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc,
                 float alpha, float beta) {
  // OpenBLAS's thread count is process-wide: keep it at one while blocks run in parallel.
  if (lib == GemmLibrary::kOpenBlas && process_openblas_threads != 1) {
    openblas_set_num_threads(1);
    process_openblas_threads = 1;
  }
  for_each_gemm_block(a.rows, b.cols, a.cols, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    ensure_threads(1);
    ops::Mat ab = a, bb = b;
    ab.data = a.data + r0 * a.row_stride;
    ab.rows = r1 - r0;
    bb.data = b.data + c0 * b.col_stride;
    bb.cols = c1 - c0;
    call_library(lib, ab, bb, c + r0 * ldc + c0, ldc, alpha, beta);
  });
}

}  // namespace

void for_each_gemm_block(int64_t m, int64_t n, int64_t k,
                         const std::function<void(int64_t, int64_t, int64_t, int64_t)>& fn) {
  if (m == 0 || n == 0) return;
  const int threads = ThreadPool::global().size();
  const double macs = double(m) * double(n) * double(k);
  if (threads == 1 || macs < kParallelMinMacs) {
    fn(0, m, 0, n);
    return;
  }
  // Split the longer side of C; each block reads all of the other operand.
  const bool by_rows = m >= n || n < 2 * kColAlign;
  const int64_t len = by_rows ? m : n, align = by_rows ? kRowAlign : kColAlign;
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(threads, (len + align - 1) / align));
  const int64_t per = ((len + blocks - 1) / blocks + align - 1) / align * align;
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t s = blk * per, e = std::min(len, s + per);
      if (s >= e) continue;
      if (by_rows) fn(s, e, 0, n);
      else fn(0, m, s, e);
    }
  });
}

void igemm_u8s8_serial(const uint8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c,
                       int64_t ldc, int64_t m, int64_t n, int64_t k) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0);
    return;
  }
  ensure_threads(1);
  const int32_t co = 0;
  const dnnl_status_t st = dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.0f, a, lda, 0, b, ldb, 0,
                                             0.0f, c, ldc, &co);
  CLIPKIT_CHECK(st == dnnl_success, "gemm: oneDNN u8s8s32 failed with status ", int(st), " for M=",
                m, " N=", n, " K=", k);
}

void sgemm_serial(GemmLibrary lib, const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc,
                  float alpha, float beta) {
  if (a.rows == 0 || b.cols == 0) return;
  if (a.cols == 0) {
    sgemm(lib, a, b, c, ldc, alpha, beta, nullptr);
    return;
  }
  ensure_threads(1);
  if (lib == GemmLibrary::kOpenBlas && process_openblas_threads.load() != 1) lib = GemmLibrary::kOneDnn;
  call_library(lib, a, b, c, ldc, alpha, beta);
}

void sgemm(GemmLibrary lib, const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc,
           float alpha, float beta, const float* bias) {
  const int64_t m = a.rows, n = b.cols, k = a.cols;
  CLIPKIT_CHECK(b.rows == k, "gemm: inner dimensions ", k, " and ", b.rows, " differ");
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float& v = c[i * ldc + j];
        v = (beta == 0.0f ? 0.0f : beta * v) + (bias ? bias[j] : 0.0f);
      }
    return;
  }
  // A bias with beta == 0 is the initial value of C (as torch.addmm does for nn.Linear).
  if (bias && beta == 0.0f) {
    for (int64_t i = 0; i < m; ++i) std::memcpy(c + i * ldc, bias, size_t(n) * sizeof(float));
    beta = 1.0f;
    bias = nullptr;
  }
  if (gemm_threading() == GemmThreading::kPool) {
    pooled_gemm(lib, a, b, c, ldc, alpha, beta);
  } else {
    const int threads = ThreadPool::global().size();
    ensure_threads(threads);
    if (lib == GemmLibrary::kOpenBlas && process_openblas_threads != threads) {
      openblas_set_num_threads(threads);
      process_openblas_threads = threads;
    }
    call_library(lib, a, b, c, ldc, alpha, beta);
  }
  if (bias) add_bias_rows(c, m, n, ldc, bias);
}

}  // namespace clipkit::cpu
