// Internal: per-axis convolution weights of Pillow's precompute_coeffs (Resample.c), computed once
// per (input size, box edge, output size, filter) and shared between calls and threads.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "image/resample.h"

namespace clipkit::image::detail {

// Whose weights: Pillow's (22-bit fixed point), or torch's antialiased uint8 interpolation
// (torch.nn.functional.interpolate(..., antialias=True) on uint8 tensors, which torchvision's
// resize uses): the same scheme with the bicubic polynomial written differently, int16 weights
// and a precision chosen per axis from the largest weight.
enum class WeightsFlavor : uint8_t { kPillow, kTorchAA };

struct AxisCoeffs {
  int in_size = 0;
  int out_size = 0;
  int ksize = 0;        // Pillow's ksize: (int)ceil(support) * 2 + 1 taps reserved per output
  int max_count = 0;    // the largest count[] actually used
  int fixed_stride = 0;  // row length of `fixed`: max_count rounded up to 8, plus 8 zero taps
  int precision = 22;    // fractional bits of `fixed` (Pillow: always 22)
  std::vector<int32_t> start;   // first source index of each output (Pillow's xmin)
  std::vector<int32_t> count;   // taps of each output (Pillow's xmax - xmin)
  std::vector<uint8_t> normalized;  // whether the output's weights had a non-zero sum
  std::vector<double> weights;  // out_size x ksize normalised weights (for I and F)
  // out_size x fixed_stride weights in fixed point with `precision` fractional bits, rounded half
  // away from zero as normalize_coeffs_8bpc does; zero past count[] so vector kernels may read
  // whole 8-tap groups.
  std::vector<int32_t> fixed;

  const int32_t* fixed_row(int i) const { return fixed.data() + size_t(i) * fixed_stride; }
  const double* weight_row(int i) const { return weights.data() + size_t(i) * ksize; }
};

inline constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

// The weights mapping source interval [in0, in1) of an axis of `in_size` pixels onto `out_size`
// pixels. Cached: repeated calls with the same arguments return the same table. Throws Error when
// the table would be absurdly large (Pillow's own overflow check).
std::shared_ptr<const AxisCoeffs> axis_coeffs(int in_size, float in0, float in1, int out_size,
                                              Filter filter,
                                              WeightsFlavor flavor = WeightsFlavor::kPillow);

// Pillow's filter kernels (double in, double out), exposed for tests.
double filter_kernel(Filter filter, double x);
// torch's antialias kernels (bilinear and bicubic only).
double torch_filter_kernel(Filter filter, double x);
double filter_support(Filter filter);

}  // namespace clipkit::image::detail
