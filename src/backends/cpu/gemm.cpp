#include "backends/cpu/gemm.h"

#include <cblas.h>
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "core/error.h"
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

// oneDNN here is built on OpenMP; its thread count is OpenMP's, which is set per calling thread.
// libgomp comes in through libdnnl, so the setter is looked up at run time rather than linked.
using OmpSetNumThreads = void (*)(int);
OmpSetNumThreads omp_setter() {
  static OmpSetNumThreads fn =
      reinterpret_cast<OmpSetNumThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  return fn;
}

thread_local int tls_gemm_threads = 0;

void ensure_threads() {
  const int want = ThreadPool::global().size();
  if (tls_gemm_threads != want) set_gemm_threads(want);
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
  if (auto fn = omp_setter()) fn(threads);
  openblas_set_num_threads(threads);
  tls_gemm_threads = threads;
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
  const Operand oa = operand(a), ob = operand(b);
  ensure_threads();
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
  if (bias) add_bias_rows(c, m, n, ldc, bias);
}

}  // namespace clipkit::cpu
