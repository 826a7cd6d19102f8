// The 32-bit passes of Pillow's resampler (ImagingResampleHorizontal_32bpc / Vertical_32bpc) for
// modes I and F: double weights, a double sum started at 0.0 and accumulated tap by tap in source
// order; I rounds half away from zero (Pillow's ROUND_UP) after each pass, F narrows to float.
// The vertical passes accumulate whole rows at a time, which keeps each output's own sum in the
// same order while letting the compiler vectorise across outputs.
#include <cstdint>
#include <vector>

#include "image/resample_kernels.h"

namespace clipkit::image::detail {
namespace {

// Pillow's ROUND_UP: (int)(x >= 0 ? x + 0.5f : x - 0.5f). Out-of-range values become INT32_MIN,
// as the x86 conversion Pillow compiles to does (C leaves them undefined).
inline int32_t round_up(double x) {
  const double r = x >= 0.0 ? x + double(0.5f) : x - double(0.5f);
  if (!(r > -2147483649.0 && r < 2147483648.0)) return INT32_MIN;
  return int32_t(r);
}

template <typename T>
inline double sample(T v) {
  return double(v);
}

template <typename T, typename Store>
void h_pass(const T* src, size_t src_stride, int rows, const AxisCoeffs& c, int first, int n,
            T* dst, size_t dst_stride, Store store) {
  for (int y = 0; y < rows; ++y) {
    const T* in = src + size_t(y) * src_stride;
    T* out = dst + size_t(y) * dst_stride;
    for (int xx = first; xx < first + n; ++xx) {
      const double* k = c.weight_row(xx);
      const T* p = in + c.start[xx];
      double ss = 0.0;
      for (int t = 0; t < c.count[xx]; ++t) ss += sample(p[t]) * k[t];
      out[xx - first] = store(ss);
    }
  }
}

template <typename T, typename Store>
void v_pass(const T* src, size_t src_stride, int row_offset, int width, const AxisCoeffs& c,
            int first, int n, T* dst, size_t dst_stride, Store store) {
  std::vector<double> acc(size_t(width > 0 ? width : 1));
  for (int yy = first; yy < first + n; ++yy) {
    const double* k = c.weight_row(yy);
    const T* base = src + size_t(c.start[yy] - row_offset) * src_stride;
    for (int x = 0; x < width; ++x) acc[x] = 0.0;
    for (int t = 0; t < c.count[yy]; ++t) {
      const T* row = base + size_t(t) * src_stride;
      const double w = k[t];
      for (int x = 0; x < width; ++x) acc[x] += sample(row[x]) * w;
    }
    T* out = dst + size_t(yy - first) * dst_stride;
    for (int x = 0; x < width; ++x) out[x] = store(acc[x]);
  }
}

const auto store_i32 = [](double v) { return round_up(v); };
const auto store_f32 = [](double v) { return float(v); };

}  // namespace

void resample_h_i32(const int32_t* src, size_t src_stride, int rows, const AxisCoeffs& c,
                    int first, int n, int32_t* dst, size_t dst_stride) {
  h_pass(src, src_stride, rows, c, first, n, dst, dst_stride, store_i32);
}

void resample_v_i32(const int32_t* src, size_t src_stride, int row_offset, int width,
                    const AxisCoeffs& c, int first, int n, int32_t* dst, size_t dst_stride) {
  v_pass(src, src_stride, row_offset, width, c, first, n, dst, dst_stride, store_i32);
}

void resample_h_f32(const float* src, size_t src_stride, int rows, const AxisCoeffs& c,
                    int first, int n, float* dst, size_t dst_stride) {
  h_pass(src, src_stride, rows, c, first, n, dst, dst_stride, store_f32);
}

void resample_v_f32(const float* src, size_t src_stride, int row_offset, int width,
                    const AxisCoeffs& c, int first, int n, float* dst, size_t dst_stride) {
  v_pass(src, src_stride, row_offset, width, c, first, n, dst, dst_stride, store_f32);
}

}  // namespace clipkit::image::detail
