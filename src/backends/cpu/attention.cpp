// Multi-head attention for the cpu backend (the contract is at ops::Backend::attention).
//
// The work is one task per (batch item, head, tile of up to kTileRows queries), claimed by the
// pool's threads from a shared counter (a head's tiles together when there are heads enough to go
// round), so a batch of one with 8-16 heads still spreads over every thread and a slow thread on
// a shared host takes fewer tasks. A task writes only its own output rows and computes them the
// same way whichever thread runs it, so results do not depend on the thread count.
//
// Inside a task the queries go in panels of 16 (8 for a tail of up to 8; one or two queries go one
// at a time, attention_query, reading keys and values in place) and the keys in blocks of
// at most kMaxKeyBlock, with the softmax computed online ("flash attention"), so no score matrix
// larger than one [key block x panel] tile (32 KB) is formed, whatever the sequence length:
//   s_ij = (scale q_i) . k_j             for the allowed keys j of the block, -inf for the others
//   m_i' = max(m_i, max_j s_ij)
//   p_ij = exp(s_ij - m_i')
//   l_i' = l_i exp(m_i - m_i') + sum_j p_ij
//   o_i' = o_i exp(m_i - m_i') + sum_j p_ij v_j
// and at the end o_i / l_i (0 when no key was allowed, l_i = 0). With one key block (sequences of
// up to kMaxKeyBlock keys) this is exp(s - max) V / sum(exp(s - max)), the max-subtracted softmax
// with its normalisation applied after the product. The query is scaled before the product, as
// torch's multi_head_attention_forward does.
//
// Causal attention ends each panel's key range at its last query, so the key blocks above the
// diagonal are never computed; a key mask's trailing zeros (right padding) end it likewise.
//
// The two products are register-blocked kernels on 8-float vectors:
//   scores  S^T[j, q] = sum_d K[j, d] Q^T[d, q]   (a key broadcast, a panel of queries per vector)
//   output  O[q, d]  += sum_j P^T[j, q] V[j, d]    (a probability broadcast, 8 dims per vector)
// reading the head's keys and values from contiguous copies (made once per head and thread; the
// rows of a fused q/k/v buffer are far apart) and the panel's queries from a scaled, transposed
// copy. Neither needs any padding of the head dimension, so every head size works.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/vec_math.h"
#include "core/thread_pool.h"

namespace clipkit::cpu {

namespace {

constexpr int64_t kTileRows = 64;      // queries per task
constexpr int64_t kMaxKeyBlock = 512;  // keys per block of the online softmax
// Below this many flops (4 Tq Tk D per head) a call runs on the calling thread: waking the pool
// costs more than it saves. (The RN50 attention pool, 0.4 MFLOP at batch 1, is bound by reading
// its keys and values and still gains from a second thread.)
constexpr double kSerialFlops = double(1 << 17);
// Panels of at most this many queries go one query at a time (attention_query).
constexpr int64_t kQueryRowsMax = 2;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// C[R, 8 NV] (+)= A[R, k] B[k, 8 NV] with A(r, p) = a[r * ars + p * acs], row p of B at
// b + p * ldb and row r of C at c + r * ldc: R x NV vector accumulators, one broadcast of A and NV
// loads of B per step. R <= 6 with NV = 2 keeps the 12 accumulators and 3 operands in the 16
// vector registers of AVX2.
template <int R, int NV, bool kAccumulate>
inline void block_kernel(const float* a, int64_t ars, int64_t acs, const float* b, int64_t ldb,
                         int64_t k, float* c, int64_t ldc) {
  v8f acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = kAccumulate ? load8(c + r * ldc + 8 * v) : v8f{};
  for (int64_t p = 0; p < k; ++p) {
    v8f bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = load8(b + p * ldb + 8 * v);
    const float* ap = a + p * acs;
    for (int r = 0; r < R; ++r) {
      const v8f av = splat8(ap[r * ars]);
      for (int v = 0; v < NV; ++v) acc[r][v] = fma8(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) store8(c + r * ldc + 8 * v, acc[r][v]);
}

// The same product for any number of rows, in blocks of 6.
template <int NV, bool kAccumulate>
void rows_product(int64_t rows, const float* a, int64_t ars, int64_t acs, const float* b,
                  int64_t ldb, int64_t k, float* c, int64_t ldc) {
  int64_t r = 0;
  for (; r + 6 <= rows; r += 6)
    block_kernel<6, NV, kAccumulate>(a + r * ars, ars, acs, b, ldb, k, c + r * ldc, ldc);
  a += r * ars;
  c += r * ldc;
  switch (rows - r) {
    case 5:
      block_kernel<5, NV, kAccumulate>(a, ars, acs, b, ldb, k, c, ldc);
      break;
    case 4:
      block_kernel<4, NV, kAccumulate>(a, ars, acs, b, ldb, k, c, ldc);
      break;
    case 3:
      block_kernel<3, NV, kAccumulate>(a, ars, acs, b, ldb, k, c, ldc);
      break;
    case 2:
      block_kernel<2, NV, kAccumulate>(a, ars, acs, b, ldb, k, c, ldc);
      break;
    case 1:
      block_kernel<1, NV, kAccumulate>(a, ars, acs, b, ldb, k, c, ldc);
      break;
    default:
      break;
  }
}

// out[c * ldo + r] = in[r * ldi + c] * scale for r, c < 8.
inline void transpose8x8_scaled(const float* in, int64_t ldi, float scale, float* out,
                                int64_t ldo) {
#if defined(__AVX__)
  const __m256 f = _mm256_set1_ps(scale);
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_mul_ps(_mm256_loadu_ps(in + i * ldi), f);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // a0 b0 a1 b1 | a4 b4 a5 b5
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // a2 b2 a3 b3 | a6 b6 a7 b7
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));      // a0 b0 c0 d0 | a4..
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));  // a1 b1 c1 d1 | a5..
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(out + i * ldo, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(out + (i + 4) * ldo, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
#else
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) out[c * ldo + r] = in[r * ldi + c] * scale;
#endif
}

// Per-thread buffers, grown only. The head copies are tagged with the call and (item, head) they
// hold and extended as causal panels need more keys.
struct Scratch {
  std::vector<float> keys, values;  // [keys_held, D] each
  uint64_t call = 0;
  int64_t item = -1, head = -1, keys_held = 0;
  std::vector<float> qt;      // [D, 16]: the panel's scaled queries, transposed
  std::vector<float> scores;  // [key block, 16]: S^T, then P^T
  std::vector<float> out;     // [16, D]: unnormalised output rows
};

template <typename T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

std::atomic<uint64_t> g_attention_calls{0};

struct Call {
  const ops::AttentionArgs& a;
  uint64_t id;
  int64_t key_block;
  int64_t tiles;  // per (item, head)
};

// Rows of a fused q/k/v buffer lie pages apart, beyond the hardware prefetcher's reach: the key
// and value loops fetch the row kAhead rows ahead of the one they read.
constexpr int64_t kAhead = 6;
inline void prefetch_row(const float* row, int64_t n, bool valid) {
  if (valid)
    for (int64_t d = 0; d < n; d += 16) __builtin_prefetch(row + d);
}

// A head's row, inline (a library memcpy call per 256-byte row costs more than the copy).
inline void copy_row(const float* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) store8(dst + i, load8(src + i));
  for (; i < n; ++i) dst[i] = src[i];
}

// Copies keys and values [held, need) of (item n, head h) into the thread's contiguous buffers.
void hold_keys(const Call& c, int64_t n, int64_t h, int64_t need, Scratch& s) {
  const ops::AttentionArgs& a = c.a;
  const int64_t hd = a.head_dim;
  if (s.call != c.id || s.item != n || s.head != h) {
    s.call = c.id, s.item = n, s.head = h, s.keys_held = 0;
  }
  if (need <= s.keys_held) return;
  float* kc = grow(s.keys, size_t(need * hd));
  float* vc = grow(s.values, size_t(need * hd));
  const float* kb = a.k + n * a.k_batch_stride + h * hd;
  const float* vb = a.v + n * a.v_batch_stride + h * hd;
  for (int64_t j = s.keys_held; j < need; ++j) {
    prefetch_row(kb + (j + kAhead) * a.k_row_stride, hd, j + kAhead < need);
    prefetch_row(vb + (j + kAhead) * a.v_row_stride, hd, j + kAhead < need);
    copy_row(kb + j * a.k_row_stride, kc + j * hd, hd);
    copy_row(vb + j * a.v_row_stride, vc + j * hd, hd);
  }
  s.keys_held = need;
}

// One online-softmax step over the block's scores st [jlen, 8 NV] (S^T, -inf where not allowed):
// turns them into p = exp(s - m') in place, updates the running max m and sum l of each query,
// and returns in `alpha` the factor exp(m - m') for the output accumulated so far.
template <int NV>
void online_softmax(float* st, int64_t jlen, v8f* m, v8f* l, v8f* alpha) {
  constexpr int64_t w = 8 * NV;
  v8f mx[NV];
  for (int v = 0; v < NV; ++v) mx[v] = splat8(kNegInf);
  for (int64_t j = 0; j < jlen; ++j)
    for (int v = 0; v < NV; ++v) mx[v] = max8(mx[v], load8(st + j * w + 8 * v));
  v8f shift[NV];
  for (int v = 0; v < NV; ++v) {
    const v8f m_new = max8(m[v], mx[v]);
    // A query with no allowed key so far keeps m = -inf; shifting by 0 then gives p = 0.
    shift[v] = m_new == kNegInf ? v8f{} : m_new;
    alpha[v] = exp8(m[v] - shift[v]);  // 0 when m was -inf, 1 when the max did not move
    m[v] = m_new;
  }
  // Two partial sums per lane halve the length of the float32 addition chains.
  v8f sum0[NV], sum1[NV];
  for (int v = 0; v < NV; ++v) sum0[v] = sum1[v] = v8f{};
  int64_t j = 0;
  for (; j + 2 <= jlen; j += 2)
    for (int v = 0; v < NV; ++v) {
      const v8f p0 = exp8(load8(st + j * w + 8 * v) - shift[v]);
      const v8f p1 = exp8(load8(st + (j + 1) * w + 8 * v) - shift[v]);
      store8(st + j * w + 8 * v, p0);
      store8(st + (j + 1) * w + 8 * v, p1);
      sum0[v] += p0;
      sum1[v] += p1;
    }
  for (; j < jlen; ++j)
    for (int v = 0; v < NV; ++v) {
      const v8f p = exp8(load8(st + j * w + 8 * v) - shift[v]);
      store8(st + j * w + 8 * v, p);
      sum0[v] += p;
    }
  for (int v = 0; v < NV; ++v) l[v] = l[v] * alpha[v] + (sum0[v] + sum1[v]);
}

// Queries [q0, q0 + qn) of item n, head h, with qn <= 8 NV.
template <int NV>
void attention_panel(const Call& c, int64_t n, int64_t h, int64_t q0, int64_t qn, int64_t kv_end,
                     Scratch& s) {
  constexpr int64_t w = 8 * NV;
  const ops::AttentionArgs& a = c.a;
  const int64_t hd = a.head_dim, tk = a.kv_len;
  const int32_t* mask = a.key_mask ? a.key_mask + n * tk : nullptr;
  float* probs = a.probs ? a.probs + ((n * a.heads + h) * a.q_len + q0) * tk : nullptr;
  // Keys any query of the panel may see.
  const int64_t keys = a.causal ? std::min(kv_end, q0 + qn) : kv_end;
  auto out_row = [&](int64_t q) {
    return a.out + n * a.out_batch_stride + (q0 + q) * a.out_row_stride + h * hd;
  };
  if (probs) std::fill(probs, probs + qn * tk, 0.0f);
  if (keys <= 0) {
    for (int64_t q = 0; q < qn; ++q) std::fill(out_row(q), out_row(q) + hd, 0.0f);
    return;
  }
  hold_keys(c, n, h, keys, s);

  float* qt = grow(s.qt, size_t(hd * 16));
  const float* qb = a.q + n * a.q_batch_stride + q0 * a.q_row_stride + h * hd;
  for (int64_t q8 = 0; q8 < w; q8 += 8) {
    int64_t d = 0;
    if (q8 + 8 <= qn)
      for (; d + 8 <= hd; d += 8)
        transpose8x8_scaled(qb + q8 * a.q_row_stride + d, a.q_row_stride, a.scale, qt + d * w + q8,
                            w);
    for (; d < hd; ++d)
      for (int64_t q = q8; q < q8 + 8; ++q)
        qt[d * w + q] = q < qn ? qb[q * a.q_row_stride + d] * a.scale : 0.0f;
  }
  float* st = grow(s.scores, size_t(c.key_block * 16));
  float* o = grow(s.out, size_t(16 * hd));
  std::fill(o, o + qn * hd, 0.0f);
  v8f m[NV], l[NV], alpha[NV];
  for (int v = 0; v < NV; ++v) m[v] = splat8(kNegInf), l[v] = v8f{};
  const v8i lane = {0, 1, 2, 3, 4, 5, 6, 7};

  for (int64_t j0 = 0; j0 < keys; j0 += c.key_block) {
    const int64_t jlen = std::min(c.key_block, keys - j0);
    rows_product<NV, false>(jlen, s.keys.data() + j0 * hd, hd, 1, qt, w, hd, st, w);
    if (mask)
      for (int64_t j = 0; j < jlen; ++j)
        if (mask[j0 + j] == 0) std::fill(st + j * w, st + (j + 1) * w, kNegInf);
    if (a.causal) {
      // Key j is hidden from the queries before it: only rows j > q0 of the block have any.
      for (int64_t j = std::max(j0, q0 + 1); j < j0 + jlen; ++j)
        for (int v = 0; v < NV; ++v) {
          const v8i query = lane + int32_t(q0 + 8 * v);
          float* row = st + (j - j0) * w + 8 * v;
          store8(row, query >= int32_t(j) ? load8(row) : splat8(kNegInf));
        }
    }
    if (probs)  // the raw scores, normalised below once the final max and sum are known
      for (int64_t j = 0; j < jlen; ++j)
        for (int64_t q = 0; q < qn; ++q) probs[q * tk + j0 + j] = st[j * w + q];
    online_softmax<NV>(st, jlen, m, l, alpha);
    if (j0 > 0) {
      float al[w];
      std::memcpy(al, alpha, sizeof al);
      for (int64_t q = 0; q < qn; ++q)
        if (al[q] != 1.0f)
          for (int64_t d = 0; d < hd; ++d) o[q * hd + d] *= al[q];
    }
    // O[q, d] += sum_j P^T[j, q] V[j, d], 16 dims at a time, then 8, then the rest.
    const float* vb = s.values.data() + j0 * hd;
    int64_t d0 = 0;
    for (; d0 + 16 <= hd; d0 += 16)
      rows_product<2, true>(qn, st, 1, w, vb + d0, hd, jlen, o + d0, hd);
    for (; d0 + 8 <= hd; d0 += 8)
      rows_product<1, true>(qn, st, 1, w, vb + d0, hd, jlen, o + d0, hd);
    for (int64_t q = 0; q < qn; ++q)
      for (int64_t d = d0; d < hd; ++d) {
        float acc = o[q * hd + d];
        for (int64_t j = 0; j < jlen; ++j) acc += st[j * w + q] * vb[j * hd + d];
        o[q * hd + d] = acc;
      }
  }

  float lsum[w], mmax[w];
  std::memcpy(lsum, l, sizeof lsum);
  std::memcpy(mmax, m, sizeof mmax);
  for (int64_t q = 0; q < qn; ++q) {
    float* dst = out_row(q);
    if (lsum[q] == 0.0f) {  // no allowed key
      std::fill(dst, dst + hd, 0.0f);
      if (probs) std::fill(probs + q * tk, probs + (q + 1) * tk, 0.0f);
      continue;
    }
    const float inv = 1.0f / lsum[q];
    const float* src = o + q * hd;
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8) store8(dst + d, load8(src + d) * inv);
    for (; d < hd; ++d) dst[d] = src[d] * inv;
    if (probs) {
      float* pr = probs + q * tk;
      const float mq = mmax[q];
      map8(pr, pr, keys, [&](v8f x) { return exp8(x - mq) * inv; });
    }
  }
}

// sum_d a[d] b[d] with two vector accumulators.
inline float dot_fma(const float* a, const float* b, int64_t n) {
  v8f acc0 = {}, acc1 = {};
  int64_t d = 0;
  for (; d + 16 <= n; d += 16) {
    acc0 = fma8(load8(a + d), load8(b + d), acc0);
    acc1 = fma8(load8(a + d + 8), load8(b + d + 8), acc1);
  }
  if (d + 8 <= n) {
    acc0 = fma8(load8(a + d), load8(b + d), acc0);
    d += 8;
  }
  float sum = hsum8(acc0 + acc1);
  for (; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

// One query without copies: its scores are dot products with the key rows where they lie and its
// output a sum of value rows, with the same online softmax as a panel. For panels of one or two
// queries (the RN50 attention pool, the tail of a 50-token sequence), where copying the head's
// keys and values and transposing the queries would cost more than the products.
void attention_query(const Call& c, int64_t n, int64_t h, int64_t i, int64_t kv_end, Scratch& s) {
  const ops::AttentionArgs& a = c.a;
  const int64_t hd = a.head_dim, tk = a.kv_len;
  const int32_t* mask = a.key_mask ? a.key_mask + n * tk : nullptr;
  float* probs = a.probs ? a.probs + ((n * a.heads + h) * a.q_len + i) * tk : nullptr;
  float* dst = a.out + n * a.out_batch_stride + i * a.out_row_stride + h * hd;
  const int64_t keys = a.causal ? std::min(kv_end, i + 1) : kv_end;
  if (probs) std::fill(probs, probs + tk, 0.0f);
  if (keys <= 0) {
    std::fill(dst, dst + hd, 0.0f);
    return;
  }
  const float* qr = a.q + n * a.q_batch_stride + i * a.q_row_stride + h * hd;
  const float* kb = a.k + n * a.k_batch_stride + h * hd;
  const float* vb = a.v + n * a.v_batch_stride + h * hd;
  float* qs = grow(s.qt, size_t(hd));
  for (int64_t d = 0; d < hd; ++d) qs[d] = qr[d] * a.scale;
  float* sc = grow(s.scores, size_t(c.key_block));
  float* o = grow(s.out, size_t(hd));
  std::fill(o, o + hd, 0.0f);
  float m = kNegInf, l = 0.0f;
  for (int64_t j0 = 0; j0 < keys; j0 += c.key_block) {
    const int64_t jlen = std::min(c.key_block, keys - j0);
    for (int64_t j = 0; j < jlen; ++j) {
      prefetch_row(kb + (j0 + j + kAhead) * a.k_row_stride, hd, j0 + j + kAhead < keys);
      sc[j] = mask && mask[j0 + j] == 0 ? kNegInf : dot_fma(qs, kb + (j0 + j) * a.k_row_stride, hd);
    }
    if (probs) std::copy(sc, sc + jlen, probs + j0);
    const float m_new = max_f(m, max_of(sc, jlen));
    const float shift = m_new == kNegInf ? 0.0f : m_new;
    const float alpha = exp_f(m - shift);
    map8(sc, sc, jlen, [shift](v8f x) { return exp8(x - shift); });
    l = l * alpha + sum_f(sc, jlen);
    m = m_new;
    if (j0 > 0 && alpha != 1.0f)
      for (int64_t d = 0; d < hd; ++d) o[d] *= alpha;
    for (int64_t j = 0; j < jlen; ++j) {
      prefetch_row(vb + (j0 + j + kAhead) * a.v_row_stride, hd, j0 + j + kAhead < keys);
      const float p = sc[j];
      if (p == 0.0f) continue;
      const float* vr = vb + (j0 + j) * a.v_row_stride;
      const v8f pv = splat8(p);
      int64_t d = 0;
      for (; d + 8 <= hd; d += 8) store8(o + d, fma8(pv, load8(vr + d), load8(o + d)));
      for (; d < hd; ++d) o[d] += p * vr[d];
    }
  }
  if (l == 0.0f) {  // no allowed key
    std::fill(dst, dst + hd, 0.0f);
    if (probs) std::fill(probs, probs + tk, 0.0f);
    return;
  }
  const float inv = 1.0f / l;
  for (int64_t d = 0; d < hd; ++d) dst[d] = o[d] * inv;
  if (probs) map8(probs, probs, keys, [&](v8f x) { return exp8(x - m) * inv; });
}

// Task t: tile t % tiles of head (t / tiles) % heads of item t / (tiles * heads).
void attention_task(const Call& c, int64_t t, Scratch& s) {
  const ops::AttentionArgs& a = c.a;
  const int64_t tile = t % c.tiles, h = (t / c.tiles) % a.heads, n = t / (c.tiles * a.heads);
  const int64_t i0 = tile * kTileRows, i1 = std::min(a.q_len, i0 + kTileRows);
  // Trailing masked keys (padding) are never read.
  int64_t kv_end = a.kv_len;
  if (a.key_mask)
    while (kv_end > 0 && a.key_mask[n * a.kv_len + kv_end - 1] == 0) --kv_end;
  for (int64_t q0 = i0; q0 < i1; q0 += 16) {
    const int64_t qn = std::min<int64_t>(16, i1 - q0);
    if (qn > 8) {
      attention_panel<2>(c, n, h, q0, qn, kv_end, s);
    } else if (qn > kQueryRowsMax) {
      attention_panel<1>(c, n, h, q0, qn, kv_end, s);
    } else {
      for (int64_t i = q0; i < q0 + qn; ++i) attention_query(c, n, h, i, kv_end, s);
    }
  }
}

}  // namespace

void CpuBackend::attention(const ops::AttentionArgs& a) {
  if (a.batch <= 0 || a.heads <= 0 || a.q_len <= 0) return;
  const int64_t key_blocks = std::max<int64_t>(1, (a.kv_len + kMaxKeyBlock - 1) / kMaxKeyBlock);
  const Call c{a, g_attention_calls.fetch_add(1) + 1,
               std::max<int64_t>(1, (a.kv_len + key_blocks - 1) / key_blocks),
               (a.q_len + kTileRows - 1) / kTileRows};
  const int64_t tasks = a.batch * a.heads * c.tiles;
  const double flops =
      4.0 * double(a.batch * a.heads) * double(a.q_len) * double(a.kv_len) * double(a.head_dim);
  const int64_t workers =
      flops < kSerialFlops ? 1 : std::min<int64_t>(tasks, ThreadPool::global().size());
  // With enough heads to go round, a thread claims all tiles of a head at once and copies its
  // keys and values once; otherwise tiles are claimed one by one so that every thread has work.
  const int64_t per_claim = a.batch * a.heads >= 4 * workers ? c.tiles : 1;
  const int64_t claims = (tasks + per_claim - 1) / per_claim;
  std::atomic<int64_t> next{0};
  parallel_for(workers, 1, [&](int64_t, int64_t) {
    thread_local Scratch scratch;
    for (int64_t u = next.fetch_add(1); u < claims; u = next.fetch_add(1))
      for (int64_t t = u * per_claim; t < std::min(tasks, (u + 1) * per_claim); ++t)
        attention_task(c, t, scratch);
  });
}

}  // namespace clipkit::cpu
