// Pointwise ops.
//
// activation: y = act(x) for act in {identity, relu, quick_gelu, gelu} (definitions in
// ops/backend.h); backward dx = dy * act'(x) with
//   relu'(x)       = [x > 0]
//   quick_gelu'(x) = s + 1.702 x s (1 - s),        s = sigmoid(1.702 x)
//   gelu'(x)       = Phi(x) + x phi(x),            Phi, phi = standard normal cdf, pdf
// add: y = a + b   (backward: da = db = dy)
#pragma once

#include "core/tensor.h"
#include "ops/backend.h"

namespace clipkit::ops {

// x and y contiguous and of one shape; y may be x.
void activation(Backend& be, Act act, const Tensor& x, Tensor& y);
void activation_backward(Backend& be, Act act, const Tensor& x, const Tensor& dy, Tensor& dx);
// All contiguous and of one shape; y may be a or b.
void add(Backend& be, const Tensor& a, const Tensor& b, Tensor& y);

}  // namespace clipkit::ops
