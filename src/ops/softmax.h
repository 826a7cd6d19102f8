// Softmax over the last dimension, in float32 with the row maximum subtracted first:
//   y_i = exp(x_i - max x) / sum_j exp(x_j - max x)
// backward: dx_i = y_i * (dy_i - sum_j dy_j y_j)
#pragma once

#include "core/tensor.h"
#include "ops/backend.h"

namespace clipkit::ops {

// x, y contiguous and of one shape; y may be x.
void softmax(Backend& be, const Tensor& x, Tensor& y);
// y is the forward output; dx may be dy.
void softmax_backward(Backend& be, const Tensor& y, const Tensor& dy, Tensor& dx);

}  // namespace clipkit::ops
