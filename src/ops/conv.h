// Convolution as a GEMM over unfolded patches, and average pooling (ViT patch embedding and the
// ModifiedResNet image tower).
//
// conv2d (cross-correlation, as torch.nn.Conv2d; zero padding `pad`, stride `stride`):
//   y[n, oy, ox, o] = sum_{c, ky, kx} w[o, c, ky, kx] * x[n, c, oy*stride - pad + ky, ox*stride - pad + kx]
//                     (+ bias[o])
// computed as  rows = im2col(x) [N*OH*OW, C*KH*KW],  y = rows w^T  (w read in place as [O, C*KH*KW]).
// A 1x1 convolution with stride 1 on channels-last input needs no unfolding: y = x w^T.
// Backward (for later training): dw = dy^T rows, drows = dy w, dx = col2im(drows).
//
// The input is a logical [N, C, H, W] tensor with any strides, so NCHW pixel batches and
// channels-last (NHWC) activations are read alike. The output is channels-last [N*OH*OW, O],
// which is what the next GEMM, BatchNorm and the attention pool want.
//
// avgpool_nhwc (torch.nn.AvgPool2d(k) with stride k, no padding, floor mode) on NHWC [N, H, W, C]:
//   y[n, oy, ox, c] = mean_{ky, kx < k} x[n, oy*k + ky, ox*k + kx, c]
#pragma once

#include "core/tensor.h"
#include "ops/backend.h"
#include "ops/workspace.h"

namespace clipkit::ops {

struct Conv2dShape {
  int64_t n, c, h, w;  // input
  int64_t o, kh, kw, stride, pad;
  int64_t out_h() const { return (h + 2 * pad - kh) / stride + 1; }
  int64_t out_w() const { return (w + 2 * pad - kw) / stride + 1; }
};

// x: logical [N, C, H, W] (any strides); weight [O, C, KH, KW] contiguous; bias [O] or null;
// y: [N*OH*OW, O] with contiguous rows. Unfolded patches are taken from `ws` and released
// (rewound) before returning.
void conv2d(Backend& be, const Tensor& x, const Tensor& weight, const Tensor* bias, int64_t stride,
            int64_t pad, Tensor& y, Workspace& ws);

// A channels-last activation [N*H*W, C] (contiguous) seen as a logical [N, C, H, W] tensor.
Tensor nhwc_as_nchw(const Tensor& rows, int64_t n, int64_t h, int64_t w);

// x [N*H*W, C] contiguous (channels-last), y [N*(H/k)*(W/k), C] contiguous.
void avgpool_nhwc(Backend& be, const Tensor& x, int64_t n, int64_t h, int64_t w, int64_t k, Tensor& y);

}  // namespace clipkit::ops
