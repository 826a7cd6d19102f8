// Pillow's precompute_coeffs and normalize_coeffs_8bpc (Resample.c), reproduced operation for
// operation in double precision so that every weight, and so every fixed-point weight, is the
// same bit pattern as Pillow's.
#include "image/resample_coeffs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "core/error.h"

namespace clipkit::image::detail {
namespace {

constexpr double kPi = 3.14159265358979323846;  // M_PI

double box_kernel(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_kernel(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_kernel(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * kPi;
  // Pillow writes the window's constants as floats (0.54f, 0.46f): keep their float values.
  return std::sin(x) / x * (double(0.54f) + double(0.46f) * std::cos(x));
}

double bicubic_kernel(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * kPi;
  return std::sin(x) / x;
}

double lanczos_kernel(double x) {
  if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
  return 0.0;
}

// torch's bicubic (UpSample.h cubic_convolution1/2 with A = -0.5): the outer lobe is written
// ((A x - 5A) x + 8A) x - 4A, which rounds differently from Pillow's form. (torch's AVX2 build may
// contract these into fused multiply-adds; over every size pair from 2..3000 to 32..518 pixels the
// int16 weights come out the same either way.)
double torch_cubic(double x) {
  constexpr double A = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2.0) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0.0;
}

std::shared_ptr<AxisCoeffs> compute(int in_size, float in0, float in1, int out_size,
                                    Filter filter, WeightsFlavor flavor) {
  const bool torch = flavor == WeightsFlavor::kTorchAA;
  CLIPKIT_CHECK(!torch || filter == Filter::kBilinear || filter == Filter::kBicubic,
                "resample: torch's antialiased interpolation has no ", filter_name(filter),
                " filter (bilinear or bicubic)");
  CLIPKIT_CHECK(filter != Filter::kNearest, "resample: NEAREST has no convolution weights");
  CLIPKIT_CHECK(in_size > 0 && out_size > 0, "resample: axis sizes must be positive (", in_size,
                " -> ", out_size, ")");
  auto c = std::make_shared<AxisCoeffs>();
  c->in_size = in_size;
  c->out_size = out_size;
  // The box edges are C floats in Pillow, subtracted in float before widening.
  double scale = double(in1 - in0) / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter_support(filter) * filterscale;
  const double ksize_d = std::ceil(support) * 2 + 1;
  // Pillow refuses tables over INT_MAX bytes; so do we, and before allocating.
  CLIPKIT_CHECK(ksize_d * 8.0 * out_size < 2147483647.0, "resample: weight table for ", in_size,
                " -> ", out_size, " pixels is too large");
  const int ksize = int(ksize_d);
  c->ksize = ksize;
  c->start.resize(out_size);
  c->count.resize(out_size);
  c->normalized.resize(out_size);
  c->weights.assign(size_t(out_size) * ksize, 0.0);
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    // C casts truncate toward zero, as Pillow's "round the value" comments rely on.
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    // torch clips the tap count to ksize ("rare cases when due to precision xsize can be larger
    // than max_interp_size by one"). Pillow does not, but with its truncations the count cannot
    // exceed floor(2 * support) + 1 <= ksize, so the clip keeps its results and our table bounds.
    if (xmax > ksize) xmax = ksize;
    double* k = c->weights.data() + size_t(xx) * ksize;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double arg = (x + xmin - center + 0.5) * ss;
      const double w = torch ? torch_filter_kernel(filter, arg) : filter_kernel(filter, arg);
      k[x] = w;
      ww += w;
    }
    if (ww != 0.0)
      for (int x = 0; x < xmax; ++x) k[x] /= ww;
    c->normalized[xx] = ww != 0.0;
    c->start[xx] = xmin;
    c->count[xx] = xmax < 0 ? 0 : xmax;
    if (c->count[xx] > c->max_count) c->max_count = c->count[xx];
  }
  // Fixed point for the 8-bit passes; rows padded with zero taps so vector kernels can read
  // whole groups of 8 past the last real tap.
  c->precision = kPrecisionBits;
  if (torch) {
    // torch: the most fractional bits (below 22) that keep the largest weight inside int16.
    double wt_max = 0.0;
    for (int xx = 0; xx < out_size; ++xx)
      if (c->normalized[xx])
        for (int x = 0; x < c->count[xx]; ++x) wt_max = std::max(wt_max, c->weight_row(xx)[x]);
    int p = 0;
    for (p = 0; p < 22; ++p) {
      const int next = int(0.5 + wt_max * double(1 << (p + 1)));
      if (next >= (1 << 15)) break;
    }
    c->precision = p;
  }
  c->fixed_stride = (c->max_count + 7) / 8 * 8 + 8;
  c->fixed.assign(size_t(out_size) * c->fixed_stride, 0);
  for (int xx = 0; xx < out_size; ++xx) {
    const double* k = c->weight_row(xx);
    int32_t* f = c->fixed.data() + size_t(xx) * c->fixed_stride;
    for (int x = 0; x < c->count[xx]; ++x) {
      const double v = k[x] * double(1 << c->precision);
      const int32_t q = v < 0 ? int32_t(-0.5 + v) : int32_t(0.5 + v);
      f[x] = torch ? int16_t(q) : q;  // torch stores int16
    }
  }
  return c;
}

// Key: sizes, the box edges' bit patterns, the filter and the flavour.
using Key = std::tuple<int, uint32_t, uint32_t, int, int, int>;

uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

double filter_kernel(Filter filter, double x) {
  switch (filter) {
    case Filter::kBox: return box_kernel(x);
    case Filter::kBilinear: return bilinear_kernel(x);
    case Filter::kHamming: return hamming_kernel(x);
    case Filter::kBicubic: return bicubic_kernel(x);
    case Filter::kLanczos: return lanczos_kernel(x);
    case Filter::kNearest: break;
  }
  return 0.0;
}

double torch_filter_kernel(Filter filter, double x) {
  if (filter == Filter::kBicubic) return torch_cubic(x);
  // torch's linear kernel is Pillow's: 1 - |x| inside (-1, 1).
  return bilinear_kernel(x);
}

double filter_support(Filter filter) {
  switch (filter) {
    case Filter::kBox: return 0.5;
    case Filter::kBilinear:
    case Filter::kHamming: return 1.0;
    case Filter::kBicubic: return 2.0;
    case Filter::kLanczos: return 3.0;
    case Filter::kNearest: break;
  }
  return 0.0;
}

std::shared_ptr<const AxisCoeffs> axis_coeffs(int in_size, float in0, float in1, int out_size,
                                              Filter filter, WeightsFlavor flavor) {
  // Preprocessing a collection resizes the same few size pairs over and over (every 640x480
  // photo to 298x224, ...): the tables are computed once and shared. The cache is bounded; when
  // full it starts over, which costs one recomputation per live pair.
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<const AxisCoeffs>> cache;
  constexpr size_t kMaxEntries = 512;
  const Key key{in_size, float_bits(in0), float_bits(in1), out_size, int(filter), int(flavor)};
  {
    std::lock_guard<std::mutex> lk(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  std::shared_ptr<const AxisCoeffs> c = compute(in_size, in0, in1, out_size, filter, flavor);
  std::lock_guard<std::mutex> lk(mu);
  if (cache.size() >= kMaxEntries) cache.clear();
  cache.emplace(key, c);
  return c;
}

}  // namespace clipkit::image::detail
