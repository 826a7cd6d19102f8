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
//
// Prepared convolution layers (the ModifiedResNet): a ConvLayer holds a convolution with its
// inference BatchNorm and epilogue (ops::ConvSpec gives the math); prepare() hands it to a backend
// once, which folds the BatchNorm and arranges the weights its own way. Activations between such
// layers are FeatureMaps in the backend's preferred layout (Backend::conv_layout(): channels-last
// rows for ref, oneDNN's channel-blocked layout for cpu), converted to plain NCHW or NHWC only where
// a plain tensor is needed. Pooling works in any layout: in each of them, a group of channels of
// one image is an NHWC block (kNchw: one channel; blocked: one block of 8 or 16), so the NHWC
// kernel pools the blocks one after the other.
#pragma once

#include <memory>

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

// ---- prepared convolution layers ------------------------------------------------------------

// Throws Error naming what is wrong when `spec` is not a valid layer (sizes, missing pointers,
// BatchNorm statistics given in part, an activation other than identity or ReLU).
void check_conv_spec(const ConvSpec& spec);
// The BatchNorm folded into the weights and bias, in float64 (the formula at ConvSpec):
// weight [O*C*KH*KW] and bias [O]. Without BatchNorm they are the layer's own values (bias 0
// when it has none).
void fold_conv_batchnorm(const ConvSpec& spec, double* weight, double* bias);

// An activation [N, C, H, W] stored in `layout` (1-D float32 storage of conv_layout_floats()).
struct FeatureMap {
  Tensor storage;
  int64_t n = 0, c = 0, h = 0, w = 0;
  ConvLayout layout = ConvLayout::kNhwc;

  ConvTensor view() {
    return {storage.data<float>(), n, c, h, w, layout};
  }
  ConstConvTensor view() const {
    return {storage.data<float>(), n, c, h, w, layout};
  }
};
// A feature map with uninitialised storage from `ws`.
FeatureMap alloc_feature_map(Workspace& ws, ConvLayout layout, int64_t n, int64_t c, int64_t h,
                             int64_t w);

// A convolution layer as a model holds it: weight [O, C, KH, KW] (F32, contiguous), bias [O] or
// undefined, BatchNorm running statistics and affine parameters [O] each (all undefined for none),
// the geometry and the epilogue, and the backend's prepared form (which may read the tensors
// when it first runs, so they must live as long as it does).
struct ConvLayer {
  Tensor weight, bias;
  Tensor bn_mean, bn_var, bn_gamma, bn_beta;
  float bn_eps = 1e-5f;
  int64_t stride = 1, pad = 0;
  bool residual = false;  // y = act(conv(x) + y): the output buffer holds the residual on entry
  Act act = Act::kIdentity;

  std::shared_ptr<const PreparedConv> prepared;
  const Backend* prepared_for = nullptr;

  int64_t out_channels() const { return weight.dim(0); }
  int64_t out_h(int64_t h) const { return (h + 2 * pad - weight.dim(2)) / stride + 1; }
  int64_t out_w(int64_t w) const { return (w + 2 * pad - weight.dim(3)) / stride + 1; }
  // Checks the tensors and makes `prepared` for backend `be` (replacing an earlier one).
  void prepare(Backend& be);
};

// y = layer(x) on the backend the layer was prepared for. y must be [N, O, OH, OW] (any layout);
// with `layer.residual` it holds the residual on entry.
void conv2d(Backend& be, const ConvLayer& layer, const FeatureMap& x, FeatureMap& y);
// The same from a plain float32 tensor [N, C, H, W]: NCHW or channels-last contiguous memory is
// read in place, any other strides through a contiguous copy.
void conv2d(Backend& be, const ConvLayer& layer, const Tensor& x, FeatureMap& y);
// Average pooling with kernel = stride = k (floor mode) in any layout; y is [N, C, H/k, W/k] in
// the layout of x.
void avgpool(Backend& be, const FeatureMap& x, int64_t k, FeatureMap& y);
// y = x in y's layout (same N, C, H, W).
void reorder(Backend& be, const FeatureMap& x, FeatureMap& y);
// A new NCHW tensor [N, C, H, W] holding x.
Tensor to_nchw(Backend& be, const FeatureMap& x);

}  // namespace clipkit::ops
