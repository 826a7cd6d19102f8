// The 8-bit passes of Pillow's resampler (ImagingResampleHorizontal_8bpc / Vertical_8bpc): each
// output sample is clip8((2^21 + sum_j k_j * v_j) >> 22) with 22-bit fixed-point weights k_j and
// 32-bit integer sums. Integer arithmetic is exact in any order, so the vector kernels below give
// the same bits as Pillow's scalar loops.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "image/resample_kernels.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace clipkit::image::detail {
namespace {

std::atomic<bool> g_force_scalar{false};

// The rounding bias of a sum of weights with `precision` fractional bits (Pillow: 2^21).
inline int32_t bias_of(const AxisCoeffs& c) { return int32_t(1) << (c.precision - 1); }

inline uint8_t clip8(int32_t acc, int precision) {
  const int32_t v = acc >> precision;  // arithmetic shift, as Pillow's (int >> n)
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

template <int C>
void h_scalar(const uint8_t* src, size_t src_stride, int rows, const AxisCoeffs& c, int first,
              int count, uint8_t* dst, size_t dst_stride) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in = src + size_t(y) * src_stride;
    uint8_t* out = dst + size_t(y) * dst_stride;
    for (int xx = first; xx < first + count; ++xx) {
      const int32_t* k = c.fixed_row(xx);
      const uint8_t* p = in + size_t(c.start[xx]) * C;
      const int n = c.count[xx];
      int32_t acc[C];
      for (int ch = 0; ch < C; ++ch) acc[ch] = bias_of(c);
      for (int t = 0; t < n; ++t)
        for (int ch = 0; ch < C; ++ch) acc[ch] += int32_t(p[t * C + ch]) * k[t];
      for (int ch = 0; ch < C; ++ch) out[(xx - first) * C + ch] = clip8(acc[ch], c.precision);
    }
  }
}

void v_scalar(const uint8_t* src, size_t src_stride, int row_offset, int row_values,
              const AxisCoeffs& c, int first, int count, uint8_t* dst, size_t dst_stride) {
  for (int yy = first; yy < first + count; ++yy) {
    const int32_t* k = c.fixed_row(yy);
    const uint8_t* base = src + size_t(c.start[yy] - row_offset) * src_stride;
    const int n = c.count[yy];
    uint8_t* out = dst + size_t(yy - first) * dst_stride;
    for (int x = 0; x < row_values; ++x) {
      int32_t acc = bias_of(c);
      for (int t = 0; t < n; ++t) acc += int32_t(base[size_t(t) * src_stride + x]) * k[t];
      out[x] = clip8(acc, c.precision);
    }
  }
}

#if defined(__AVX2__)

// One 8-lane step of the horizontal pass reads 8 bytes: 8 one-channel pixels, 4 two-channel
// pixels, or 2 three- or four-channel pixels (three-channel ones spread to four lanes, the fourth
// lane a don't-care that is never stored).
template <int C>
constexpr int kPixelsPerStep = C == 1 ? 8 : C == 2 ? 4 : 2;

template <int C>
inline __m256i load_pixels(const uint8_t* p) {
  __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  if constexpr (C == 3) v = _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, -1, -1,
                                                              -1, -1, -1, -1, -1, -1));
  return _mm256_cvtepu8_epi32(v);
}

template <int C>
inline __m256i load_weights(const int32_t* k) {
  if constexpr (C == 1) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k));
  } else if constexpr (C == 2) {
    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(k));
    return _mm256_permutevar8x32_epi32(_mm256_castsi128_si256(w),
                                       _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
  } else {
    const __m128i w = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(k));
    return _mm256_permutevar8x32_epi32(_mm256_castsi128_si256(w),
                                       _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
  }
}

// Sums the lanes of one channel, adds nothing more (the bias sits in the initial accumulator),
// shifts, clips and stores C bytes.
template <int C>
inline void store_pixel(__m256i acc, __m128i shift, uint8_t* out) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  if constexpr (C <= 2) s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  if constexpr (C == 1) s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  s = _mm_sra_epi32(s, shift);
  s = _mm_packs_epi32(s, s);   // saturating: values are within +-640 here
  s = _mm_packus_epi16(s, s);  // clamps to 0..255
  const uint32_t v = uint32_t(_mm_cvtsi128_si32(s));
  std::memcpy(out, &v, C);
}

template <int C>
inline __m256i initial_acc(int32_t b) {
  if constexpr (C == 1) return _mm256_setr_epi32(b, 0, 0, 0, 0, 0, 0, 0);
  if constexpr (C == 2) return _mm256_setr_epi32(b, b, 0, 0, 0, 0, 0, 0);
  return _mm256_setr_epi32(b, b, b, b, 0, 0, 0, 0);
}

template <int C>
void h_avx2(const uint8_t* src, size_t src_stride, int rows, const AxisCoeffs& c, int first,
            int count, uint8_t* dst, size_t dst_stride) {
  constexpr int P = kPixelsPerStep<C>;
  const int in_bytes = c.in_size * C;
  // Outputs whose last 8-byte load would run past the end of the source row read from a
  // zero-padded copy of the row's tail instead. They are the last few outputs of a row.
  int tail_start = c.in_size;
  int tail_len = 0;
  std::vector<uint8_t> unsafe(size_t(c.out_size), 0);
  for (int xx = first; xx < first + count; ++xx) {
    const int steps = (c.count[xx] + P - 1) / P;
    const int last_read = steps == 0 ? 0 : (c.start[xx] + (steps - 1) * P) * C + 8;
    if (last_read > in_bytes) {
      unsafe[xx] = 1;
      tail_start = std::min(tail_start, int(c.start[xx]));
    }
  }
  for (int xx = first; xx < first + count; ++xx)
    if (unsafe[xx]) {
      const int steps = (c.count[xx] + P - 1) / P;
      tail_len = std::max(tail_len, (c.start[xx] - tail_start + steps * P) * C + 8);
    }
  std::vector<uint8_t> tail(size_t(std::max(tail_len, 1)), 0);
  const int tail_copy = in_bytes - tail_start * C;
  const __m256i init = initial_acc<C>(bias_of(c));
  const __m128i shift = _mm_cvtsi32_si128(c.precision);

  for (int y = 0; y < rows; ++y) {
    const uint8_t* in = src + size_t(y) * src_stride;
    uint8_t* out = dst + size_t(y) * dst_stride;
    if (tail_len > 0) std::memcpy(tail.data(), in + size_t(tail_start) * C, size_t(tail_copy));
    for (int xx = first; xx < first + count; ++xx) {
      const int32_t* k = c.fixed_row(xx);
      const uint8_t* p = unsafe[xx] ? tail.data() + size_t(c.start[xx] - tail_start) * C
                                    : in + size_t(c.start[xx]) * C;
      const int n = c.count[xx];
      __m256i acc = init;
      for (int t = 0; t < n; t += P) {
        const __m256i px = load_pixels<C>(p + size_t(t) * C);
        acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(px, load_weights<C>(k + t)));
      }
      store_pixel<C>(acc, shift, out + size_t(xx - first) * C);
    }
  }
}

// The horizontal pass for three- and four-channel images, 8 rows at a time: the block is first
// transposed so that for each source pixel x the 8 rows' samples lie side by side (L = 8 * C
// bytes), and a tap becomes one broadcast weight times L contiguous samples, as in the vertical
// pass, instead of shuffled half-used vectors and a horizontal sum per output pixel. The sums are
// the same integers as h_avx2's.
template <int C>
inline __m256i load8_pixels(const uint8_t* p) {
  if constexpr (C == 4) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  } else {
    // 8 three-byte pixels spread to 4 bytes each (the 4th a don't-care); reads 28 bytes.
    const __m128i m = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    const __m128i lo = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), m);
    const __m128i hi = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 12)), m);
    return _mm256_set_m128i(hi, lo);
  }
}

// Transposes 8 rows x pixels [x0, x0 + 8) into buf (pixel-major, L bytes per pixel).
template <int C>
inline void transpose8(const uint8_t* const* rows, int x0, uint8_t* buf) {
  __m256i r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = load8_pixels<C>(rows[i] + size_t(x0) * C);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  __m256i px[8];
  for (int k = 0; k < 4; ++k) {
    px[k] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x20);      // pixel k
    px[k + 4] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x31);  // pixel k + 4
  }
  // In pixel order: with three channels each store spills 4 bytes into the next pixel's place,
  // which that pixel's own store then overwrites.
  for (int k = 0; k < 8; ++k) {
    uint8_t* o = buf + size_t(x0 + k) * (8 * C);
    if constexpr (C == 4) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), px[k]);
    } else {
      // Drop every 4th byte: rows 0-3 then rows 4-7, 12 bytes each; the second store covers the
      // first one's 4 spare bytes.
      const __m256i m = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                         0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
      const __m256i c = _mm256_shuffle_epi8(px[k], m);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm256_castsi256_si128(c));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 12), _mm256_extracti128_si256(c, 1));
    }
  }
}

template <int C>
void h_blocks_avx2(const uint8_t* src, size_t src_stride, int rows, const AxisCoeffs& c, int first,
                   int count, uint8_t* dst, size_t dst_stride, std::vector<uint8_t>& buf) {
  static_assert(C == 3 || C == 4, "8-row blocks of 3- or 4-channel pixels");
  constexpr int L = 8 * C, V = L / 8;
  const int xlo = c.start[first];
  int xhi = xlo;
  for (int xx = first; xx < first + count; ++xx) xhi = std::max(xhi, c.start[xx] + c.count[xx]);
  const int span = xhi - xlo;
  buf.assign(size_t(span) * L + 64, 0);
  // Vector loads of 8 pixels read 8 * 4 bytes from the first one: keep them inside the row.
  const int vec_end = std::max(0, std::min(span, (c.in_size * C - 32) / C - xlo + 1));
  const int32_t bias = bias_of(c);
  const __m128i shift = _mm_cvtsi32_si128(c.precision);
  alignas(32) uint8_t packed[32];
  const uint8_t* rp[8];
  for (int r0 = 0; r0 + 8 <= rows; r0 += 8) {
    for (int r = 0; r < 8; ++r) rp[r] = src + size_t(r0 + r) * src_stride + size_t(xlo) * C;
    int x = 0;
    for (; x + 8 <= vec_end; x += 8) transpose8<C>(rp, x, buf.data());
    for (; x < span; ++x)
      for (int r = 0; r < 8; ++r)
        std::memcpy(buf.data() + size_t(x) * L + r * C, rp[r] + size_t(x) * C, C);
    for (int xx = first; xx < first + count; ++xx) {
      const int32_t* k = c.fixed_row(xx);
      const uint8_t* p = buf.data() + size_t(c.start[xx] - xlo) * L;
      __m256i acc[4];
      for (int v = 0; v < 4; ++v) acc[v] = _mm256_set1_epi32(bias);
      for (int t = 0; t < c.count[xx]; ++t, p += L) {
        const __m256i w = _mm256_set1_epi32(k[t]);
        for (int v = 0; v < V; ++v) {
          const __m256i px =
              _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * v)));
          acc[v] = _mm256_add_epi32(acc[v], _mm256_mullo_epi32(px, w));
        }
      }
      for (int v = 0; v < 4; ++v) acc[v] = _mm256_sra_epi32(acc[v], shift);
      const __m256i pk = _mm256_packus_epi16(_mm256_packs_epi32(acc[0], acc[1]),
                                             _mm256_packs_epi32(acc[2], acc[3]));
      _mm256_store_si256(reinterpret_cast<__m256i*>(packed),
                         _mm256_permutevar8x32_epi32(pk, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
      uint8_t* out = dst + size_t(r0) * dst_stride + size_t(xx - first) * C;
      for (int r = 0; r < 8; ++r) std::memcpy(out + size_t(r) * dst_stride, packed + r * C, C);
    }
  }
}

// 32 output samples of the vertical pass: 4 accumulators of 8 lanes.
inline void v_block32(const uint8_t* base, size_t stride, const int32_t* k, int n, int32_t bias,
                      __m128i shift, uint8_t* out) {
  __m256i a0 = _mm256_set1_epi32(bias), a1 = a0, a2 = a0, a3 = a0;
  for (int t = 0; t < n; ++t) {
    const __m256i w = _mm256_set1_epi32(k[t]);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + size_t(t) * stride));
    const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(lo), w));
    a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), w));
    a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(hi), w));
    a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), w));
  }
  a0 = _mm256_sra_epi32(a0, shift);
  a1 = _mm256_sra_epi32(a1, shift);
  a2 = _mm256_sra_epi32(a2, shift);
  a3 = _mm256_sra_epi32(a3, shift);
  // The packs work within 128-bit halves; the final permute puts the 4-byte groups in order.
  const __m256i p = _mm256_packus_epi16(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(a2, a3));
  const __m256i r = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), r);
}

void v_avx2(const uint8_t* src, size_t src_stride, int row_offset, int row_values,
            const AxisCoeffs& c, int first, int count, uint8_t* dst, size_t dst_stride) {
  if (row_values < 32) {
    v_scalar(src, src_stride, row_offset, row_values, c, first, count, dst, dst_stride);
    return;
  }
  const int32_t bias = bias_of(c);
  const __m128i shift = _mm_cvtsi32_si128(c.precision);
  for (int yy = first; yy < first + count; ++yy) {
    const int32_t* k = c.fixed_row(yy);
    const uint8_t* base = src + size_t(c.start[yy] - row_offset) * src_stride;
    const int n = c.count[yy];
    uint8_t* out = dst + size_t(yy - first) * dst_stride;
    int x = 0;
    for (; x + 32 <= row_values; x += 32) v_block32(base + x, src_stride, k, n, bias, shift, out + x);
    // The last partial block is redone as the final 32 samples of the row (outputs depend only
    // on inputs, so recomputing the overlap writes the same values).
    if (x < row_values) {
      x = row_values - 32;
      v_block32(base + x, src_stride, k, n, bias, shift, out + x);
    }
  }
}

#endif  // __AVX2__

}  // namespace

void set_force_scalar_kernels(bool on) { g_force_scalar.store(on); }

bool vector_kernels_available() {
#if defined(__AVX2__)
  return true;
#else
  return false;
#endif
}

void resample_h_u8(const uint8_t* src, size_t src_stride, int rows, int channels,
                   const AxisCoeffs& c, int first, int n, uint8_t* dst, size_t dst_stride) {
#if defined(__AVX2__)
  if (!g_force_scalar.load(std::memory_order_relaxed) && channels >= 1 && channels <= 4) {
    // Three- and four-channel images: whole blocks of 8 rows through the transposing kernel, the
    // remaining rows (and one- and two-channel images) one row at a time.
    const int blocked = (channels >= 3 && n > 0) ? rows / 8 * 8 : 0;
    if (blocked > 0) {
      std::vector<uint8_t> buf;
      if (channels == 3)
        h_blocks_avx2<3>(src, src_stride, blocked, c, first, n, dst, dst_stride, buf);
      else
        h_blocks_avx2<4>(src, src_stride, blocked, c, first, n, dst, dst_stride, buf);
    }
    if (blocked == rows) return;
    src += size_t(blocked) * src_stride;
    dst += size_t(blocked) * dst_stride;
    rows -= blocked;
    switch (channels) {
      case 1: return h_avx2<1>(src, src_stride, rows, c, first, n, dst, dst_stride);
      case 2: return h_avx2<2>(src, src_stride, rows, c, first, n, dst, dst_stride);
      case 3: return h_avx2<3>(src, src_stride, rows, c, first, n, dst, dst_stride);
      case 4: return h_avx2<4>(src, src_stride, rows, c, first, n, dst, dst_stride);
    }
  }
#endif
  switch (channels) {
    case 1: return h_scalar<1>(src, src_stride, rows, c, first, n, dst, dst_stride);
    case 2: return h_scalar<2>(src, src_stride, rows, c, first, n, dst, dst_stride);
    case 3: return h_scalar<3>(src, src_stride, rows, c, first, n, dst, dst_stride);
    case 4: return h_scalar<4>(src, src_stride, rows, c, first, n, dst, dst_stride);
    default: break;
  }
}

void resample_v_u8(const uint8_t* src, size_t src_stride, int row_offset, int row_values,
                   const AxisCoeffs& c, int first, int n, uint8_t* dst, size_t dst_stride) {
#if defined(__AVX2__)
  if (!g_force_scalar.load(std::memory_order_relaxed))
    return v_avx2(src, src_stride, row_offset, row_values, c, first, n, dst, dst_stride);
#endif
  v_scalar(src, src_stride, row_offset, row_values, c, first, n, dst, dst_stride);
}

}  // namespace clipkit::image::detail
