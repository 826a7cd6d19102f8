// Normalisations.
//
// layernorm over the last dimension (biased variance, as torch.nn.LayerNorm):
//   mu = mean(x),  var = mean((x - mu)^2),  rstd = 1 / sqrt(var + eps)
//   y = (x - mu) * rstd * gamma + beta
// backward, with xhat = (x - mu) * rstd and g = dy * gamma (C = last dimension):
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//   dgamma = sum over rows of dy * xhat,   dbeta = sum over rows of dy
//
// batchnorm (inference: running statistics, torch.nn.BatchNorm2d in eval mode) on channels-last
// activations [rows, C] (NHWC flattened):
//   y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta   (then ReLU when asked)
//
// l2_normalize over the last dimension: y = x / ||x||_2 (CLIP's embedding normalisation).
#pragma once

#include "core/tensor.h"
#include "ops/backend.h"

namespace clipkit::ops {

// x and y [.., C] with contiguous rows (y may be x). mean/rstd ([rows]) may be null; they are
// saved for layernorm_backward.
void layernorm(Backend& be, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
               Tensor& y, Tensor* mean = nullptr, Tensor* rstd = nullptr);

// x, dy, dx contiguous and of one shape. dgamma/dbeta (may be null) are accumulated into.
void layernorm_backward(Backend& be, const Tensor& x, const Tensor& dy, const Tensor& gamma,
                        const Tensor& mean, const Tensor& rstd, Tensor& dx, Tensor* dgamma,
                        Tensor* dbeta);

// x and y [rows, C] with contiguous rows (y may be x); statistics and affine parameters [C].
void batchnorm(Backend& be, const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
               const Tensor& gamma, const Tensor& beta, float eps, bool relu, Tensor& y);

// x and y contiguous [rows, C]; y may be x.
void l2_normalize(Backend& be, const Tensor& x, Tensor& y);

}  // namespace clipkit::ops
