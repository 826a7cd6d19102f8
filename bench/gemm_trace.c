// gemm_trace: an LD_PRELOAD library that times every GEMM library call of a process, for
// bench/profile.sh. It interposes dnnl_sgemm, dnnl_gemm_u8s8s32, cblas_sgemm and oneDNN's
// dnnl_primitive_execute (convolutions, matmuls, reorders), calls the real function (dlsym
// RTLD_NEXT) and records per call:
//   what was called: sgemm, igemm (u8 x s8), cblas, or the primitive's kind (conv, matmul, ip for
//   inner product, reorder, prim for any other); M, N, K (for a primitive: output pixels, output
//   channels and multiply-adds per output, so that 2·M·N·K is its FLOPs); the leading dimension
//   of C (row-major, as clipkit calls them), which is the full width of the output a block of
//   rows or columns is written into and so tells a model's layers apart however the product was
//   split (0 for primitives); start (CLOCK_MONOTONIC, the clock that
//   `perf record -k CLOCK_MONOTONIC` stamps its samples with); wall time; CPU time of the calling
//   thread; thread id; and the call site (the return addresses above the call, as object +
//   offset, so that a script can name the clipkit function that asked for the product: a linear
//   layer, a convolution, attention).
// At exit it writes them as text to $GEMM_TRACE_OUT (nothing when unset):
//   site <id> <object>+0x<offset> ...           one line per distinct call stack
//   call <what> <m> <n> <k> <ldc> <start_ns> <wall_ns> <cpu_ns> <tid> <site>
// The timer brackets only the real call, so the recorded times are the library's own; the
// bookkeeping around it (a backtrace per call, a few microseconds) falls outside them. A
// primitive may run on OpenMP threads besides the caller: its CPU time here is the caller's only.
//
// Build: cc -O2 -shared -fPIC bench/gemm_trace.c -o gemm_trace.so -ldl -lpthread
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { kMaxFrames = 24, kMaxSites = 4096 };
// Calls kept: far more than the largest profile makes (ViT-L/14 at batch 32: ~30 000 calls per
// pass). The array is reserved, not committed: untouched pages cost nothing.
static const size_t kMaxCalls = (size_t)1 << 22;

typedef struct {
  int64_t m, n, k, ldc;
  uint64_t start_ns, wall_ns, cpu_ns;
  int32_t tid, site;
  const char* what;  // sgemm, igemm, cblas, or a primitive kind (see the header)
} Call;

typedef struct {
  uint64_t hash;
  int depth;
  void* frames[kMaxFrames];
} Site;

static Call* g_calls;
static atomic_size_t g_ncalls;
static atomic_size_t g_dropped;
static Site g_sites[kMaxSites];
static int g_nsites;
static pthread_mutex_t g_site_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void) {
  void* p = mmap(NULL, kMaxCalls * sizeof(Call), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  g_calls = p == MAP_FAILED ? NULL : (Call*)p;
}

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// The id of the call stack above the interposed function (frame 0 is this function, frame 1 the
// interposer: both skipped). Equal stacks share one id.
static int site_id(void) {
  void* frames[kMaxFrames + 2];
  int depth = backtrace(frames, kMaxFrames + 2) - 2;
  if (depth < 0) depth = 0;
  void** f = frames + 2;
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the addresses
  for (int i = 0; i < depth; ++i) h = (h ^ (uint64_t)(uintptr_t)f[i]) * 1099511628211ull;
  pthread_mutex_lock(&g_site_mu);
  int id = -1;
  for (int i = g_nsites - 1; i >= 0; --i) {
    if (g_sites[i].hash == h && g_sites[i].depth == depth &&
        memcmp(g_sites[i].frames, f, sizeof(void*) * (size_t)depth) == 0) {
      id = i;
      break;
    }
  }
  if (id < 0 && g_nsites < kMaxSites) {
    id = g_nsites++;
    g_sites[id].hash = h;
    g_sites[id].depth = depth;
    memcpy(g_sites[id].frames, f, sizeof(void*) * (size_t)depth);
  }
  pthread_mutex_unlock(&g_site_mu);
  return id;
}

typedef struct {
  uint64_t start, cpu0;
  int site;
} Pending;

static Pending begin_call(void) {
  pthread_once(&g_once, init_once);
  Pending p;
  p.site = site_id();
  p.cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  p.start = now_ns(CLOCK_MONOTONIC);
  return p;
}

static void end_call(const Pending* p, const char* what, int64_t m, int64_t n, int64_t k,
                     int64_t ldc) {
  const uint64_t end = now_ns(CLOCK_MONOTONIC), cpu1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  const size_t i = atomic_fetch_add(&g_ncalls, 1);
  if (!g_calls || i >= kMaxCalls) {
    atomic_fetch_add(&g_dropped, 1);
    return;
  }
  Call* c = &g_calls[i];
  c->m = m, c->n = n, c->k = k, c->ldc = ldc;
  c->start_ns = p->start;
  c->wall_ns = end - p->start;
  c->cpu_ns = cpu1 - p->cpu0;
  c->tid = (int32_t)syscall(SYS_gettid);
  c->site = p->site;
  c->what = what;
}

static void* real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (!f) {
    fprintf(stderr, "gemm_trace: %s not found in the libraries after this one\n", name);
    abort();
  }
  return f;
}

typedef dnnl_status_t (*SgemmFn)(char, char, dnnl_dim_t, dnnl_dim_t, dnnl_dim_t, float,
                                 const float*, dnnl_dim_t, const float*, dnnl_dim_t, float,
                                 float*, dnnl_dim_t);

dnnl_status_t dnnl_sgemm(char transa, char transb, dnnl_dim_t M, dnnl_dim_t N, dnnl_dim_t K,
                         float alpha, const float* A, dnnl_dim_t lda, const float* B,
                         dnnl_dim_t ldb, float beta, float* C, dnnl_dim_t ldc) {
  static SgemmFn fn;
  if (!fn) fn = (SgemmFn)real("dnnl_sgemm");
  Pending p = begin_call();
  dnnl_status_t st = fn(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  end_call(&p, "sgemm", M, N, K, ldc);
  return st;
}

typedef dnnl_status_t (*IgemmFn)(char, char, char, dnnl_dim_t, dnnl_dim_t, dnnl_dim_t, float,
                                 const uint8_t*, dnnl_dim_t, uint8_t, const int8_t*, dnnl_dim_t,
                                 int8_t, float, int32_t*, dnnl_dim_t, const int32_t*);

dnnl_status_t dnnl_gemm_u8s8s32(char transa, char transb, char offsetc, dnnl_dim_t M,
                                dnnl_dim_t N, dnnl_dim_t K, float alpha, const uint8_t* A,
                                dnnl_dim_t lda, uint8_t ao, const int8_t* B, dnnl_dim_t ldb,
                                int8_t bo, float beta, int32_t* C, dnnl_dim_t ldc,
                                const int32_t* co) {
  static IgemmFn fn;
  if (!fn) fn = (IgemmFn)real("dnnl_gemm_u8s8s32");
  Pending p = begin_call();
  dnnl_status_t st = fn(transa, transb, offsetc, M, N, K, alpha, A, lda, ao, B, ldb, bo, beta, C,
                        ldc, co);
  end_call(&p, "igemm", M, N, K, ldc);
  return st;
}

typedef void (*CblasSgemmFn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE,
                             blasint, blasint, blasint, float, const float*, blasint,
                             const float*, blasint, float, float*, blasint);

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                 blasint M, blasint N, blasint K, float alpha, const float* A, blasint lda,
                 const float* B, blasint ldb, float beta, float* C, blasint ldc) {
  static CblasSgemmFn fn;
  if (!fn) fn = (CblasSgemmFn)real("cblas_sgemm");
  Pending p = begin_call();
  fn(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  end_call(&p, "cblas", M, N, K, ldc);
}

// oneDNN's queries, looked up when first needed (the library is loaded by the traced program).
typedef dnnl_status_t (*GetPdFn)(const_dnnl_primitive_t, const_dnnl_primitive_desc_t*);
typedef dnnl_status_t (*QueryFn)(const_dnnl_primitive_desc_t, dnnl_query_t, int, void*);
typedef const dnnl_memory_desc_t* (*QueryMdFn)(const_dnnl_primitive_desc_t, dnnl_query_t, int);

static int64_t dims_product(const dnnl_memory_desc_t* md, int skip) {
  int64_t p = 1;
  for (int i = 0; i < md->ndims; ++i)
    if (i != skip) p *= md->dims[i];
  return p;
}

// What a primitive is, and for the ones that multiply (convolution, matmul, inner product) its
// size as a GEMM: M outputs per channel, N channels, K multiply-adds per output.
static const char* describe_primitive(const_dnnl_primitive_t prim, int64_t* m, int64_t* n,
                                      int64_t* k) {
  static GetPdFn get_pd;
  static QueryFn query;
  static QueryMdFn query_md;
  if (!get_pd) {
    get_pd = (GetPdFn)dlsym(RTLD_DEFAULT, "dnnl_primitive_get_primitive_desc");
    query = (QueryFn)dlsym(RTLD_DEFAULT, "dnnl_primitive_desc_query");
    query_md = (QueryMdFn)dlsym(RTLD_DEFAULT, "dnnl_primitive_desc_query_md");
  }
  *m = *n = *k = 0;
  const_dnnl_primitive_desc_t pd;
  dnnl_primitive_kind_t kind;
  if (!get_pd || !query || !query_md || get_pd(prim, &pd) != dnnl_success ||
      query(pd, dnnl_query_primitive_kind, 0, &kind) != dnnl_success)
    return "prim";
  const dnnl_memory_desc_t* dst = query_md(pd, dnnl_query_dst_md, 0);
  const dnnl_memory_desc_t* w = query_md(pd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t* src = query_md(pd, dnnl_query_src_md, 0);
  switch (kind) {
    case dnnl_convolution:
    case dnnl_inner_product:
      // dst [N, OC, spatial...]; weights [(G,) OC/G, IC/G, kernel...]: their product is OC·K.
      if (dst && w && dst->ndims >= 2 && dst->dims[1] > 0) {
        *n = dst->dims[1];
        *m = dims_product(dst, 1);
        *k = dims_product(w, -1) / *n;
      }
      return kind == dnnl_convolution ? "conv" : "ip";
    case dnnl_matmul:
      // src [..., M, K], dst [..., M, N]
      if (dst && src && dst->ndims >= 2 && src->ndims >= 2) {
        *n = dst->dims[dst->ndims - 1];
        *m = dims_product(dst, dst->ndims - 1);
        *k = src->dims[src->ndims - 1];
      }
      return "matmul";
    case dnnl_reorder:
      return "reorder";
    default:
      return "prim";
  }
}

typedef dnnl_status_t (*ExecFn)(const_dnnl_primitive_t, dnnl_stream_t, int, const dnnl_exec_arg_t*);

dnnl_status_t dnnl_primitive_execute(const_dnnl_primitive_t primitive, dnnl_stream_t stream,
                                     int nargs, const dnnl_exec_arg_t* args) {
  static ExecFn fn;
  if (!fn) fn = (ExecFn)real("dnnl_primitive_execute");
  int64_t m, n, k;
  const char* what = describe_primitive(primitive, &m, &n, &k);
  Pending p = begin_call();
  dnnl_status_t st = fn(primitive, stream, nargs, args);
  end_call(&p, what, m, n, k, 0);
  return st;
}

__attribute__((destructor)) static void write_trace(void) {
  const char* path = getenv("GEMM_TRACE_OUT");
  if (!path || !*path || !g_calls) return;
  FILE* f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "gemm_trace: cannot write %s\n", path);
    return;
  }
  size_t n = atomic_load(&g_ncalls);
  if (n > kMaxCalls) n = kMaxCalls;
  fprintf(f, "# gemm_trace pid %d calls %zu dropped %zu\n", (int)getpid(), n,
          atomic_load(&g_dropped));
  pthread_mutex_lock(&g_site_mu);
  for (int s = 0; s < g_nsites; ++s) {
    fprintf(f, "site %d", s);
    for (int i = 0; i < g_sites[s].depth; ++i) {
      Dl_info info;
      void* a = g_sites[s].frames[i];
      if (dladdr(a, &info) && info.dli_fname && info.dli_fbase)
        fprintf(f, " %s+0x%lx", info.dli_fname,
                (unsigned long)((uintptr_t)a - (uintptr_t)info.dli_fbase));
      else
        fprintf(f, " ?+0x%lx", (unsigned long)(uintptr_t)a);
    }
    fputc('\n', f);
  }
  pthread_mutex_unlock(&g_site_mu);
  for (size_t i = 0; i < n; ++i) {
    const Call* c = &g_calls[i];
    fprintf(f, "call %s %lld %lld %lld %lld %llu %llu %llu %d %d\n", c->what, (long long)c->m,
            (long long)c->n, (long long)c->k, (long long)c->ldc, (unsigned long long)c->start_ns,
            (unsigned long long)c->wall_ns, (unsigned long long)c->cpu_ns, c->tid, c->site);
  }
  fclose(f);
}
