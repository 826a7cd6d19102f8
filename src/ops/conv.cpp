#include "ops/conv.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops/check.h"

namespace clipkit::ops {

void conv2d(Backend& be, const Tensor& x, const Tensor& weight, const Tensor* bias, int64_t stride,
            int64_t pad, Tensor& y, Workspace& ws) {
  detail::check_f32("conv2d", "x", x);
  detail::check_f32("conv2d", "weight", weight);
  CLIPKIT_CHECK(x.ndim() == 4, "conv2d: input must be [N, C, H, W], got ", shape_str(x.shape()));
  CLIPKIT_CHECK(weight.ndim() == 4 && weight.is_contiguous(), "conv2d: weight ",
                detail::describe("weight", weight), " must be a contiguous [O, C, KH, KW], got ",
                shape_str(weight.shape()));
  const Conv2dShape s{x.dim(0), x.dim(1), x.dim(2), x.dim(3), weight.dim(0), weight.dim(2),
                      weight.dim(3), stride, pad};
  CLIPKIT_CHECK(weight.dim(1) == s.c, "conv2d: weight ", detail::describe("weight", weight),
                " has shape ", shape_str(weight.shape()), ", expected ",
                shape_str({s.o, s.c, s.kh, s.kw}), " for a ", s.c, "-channel input");
  CLIPKIT_CHECK(stride >= 1 && pad >= 0 && s.out_h() >= 1 && s.out_w() >= 1, "conv2d: kernel ",
                s.kh, "x", s.kw, " stride ", stride, " pad ", pad, " does not fit input ",
                shape_str(x.shape()));
  const int64_t rows = s.n * s.out_h() * s.out_w(), k = s.c * s.kh * s.kw;
  int64_t ry, cy, ldy;
  detail::as_rows("conv2d", "y", y, &ry, &cy, &ldy);
  CLIPKIT_CHECK(ry == rows && cy == s.o, "conv2d: output has shape ", shape_str(y.shape()),
                ", expected ", shape_str({rows, s.o}));
  const float* b = bias ? detail::vec("conv2d", "bias", *bias, s.o) : nullptr;
  const Mat w{weight.data<float>(), s.o, k, k, 1};

  // 1x1, stride 1, no padding, channels-last: the input rows are the patches already.
  const bool direct = s.kh == 1 && s.kw == 1 && stride == 1 && pad == 0 && x.strides()[1] == 1 &&
                      x.strides()[3] == s.c && x.strides()[2] == s.w * s.c &&
                      x.strides()[0] == s.h * s.w * s.c;
  if (direct) {
    be.gemm(Mat::rows_of(x.data<float>(), rows, k, k), w.t(), y.data<float>(), ldy, 1.0f, 0.0f, b);
    return;
  }
  const Workspace::Mark scratch = ws.mark();  // the unfolded patches live only for this call
  float* cols = ws.alloc_floats(size_t(rows * k));
  Im2ColArgs a;
  a.x = x.data<float>();
  a.n = s.n, a.c = s.c, a.h = s.h, a.w = s.w;
  a.stride_n = x.strides()[0], a.stride_c = x.strides()[1];
  a.stride_h = x.strides()[2], a.stride_w = x.strides()[3];
  a.kh = s.kh, a.kw = s.kw, a.stride = stride, a.pad = pad;
  a.out = cols;
  be.im2col(a);
  be.gemm(Mat::rows_of(cols, rows, k, k), w.t(), y.data<float>(), ldy, 1.0f, 0.0f, b);
  ws.rewind(scratch);
}

Tensor nhwc_as_nchw(const Tensor& rows, int64_t n, int64_t h, int64_t w) {
  CLIPKIT_CHECK(rows.ndim() == 2 && rows.is_contiguous() && rows.dim(0) == n * h * w,
                "nhwc_as_nchw: expected contiguous [", n * h * w, ", C], got ",
                shape_str(rows.shape()));
  const int64_t c = rows.dim(1);
  return Tensor::view(rows.owner(), rows.raw(), rows.dtype(), {n, c, h, w},
                      {h * w * c, 1, w * c, c});
}

void avgpool_nhwc(Backend& be, const Tensor& x, int64_t n, int64_t h, int64_t w, int64_t k,
                  Tensor& y) {
  detail::check_f32("avgpool", "x", x);
  CLIPKIT_CHECK(k >= 1 && h >= k && w >= k, "avgpool: kernel ", k, " larger than input ", h, "x", w);
  CLIPKIT_CHECK(x.ndim() == 2 && x.is_contiguous() && x.dim(0) == n * h * w,
                "avgpool: input must be contiguous [", n * h * w, ", C], got ", shape_str(x.shape()));
  const int64_t c = x.dim(1);
  CLIPKIT_CHECK(y.is_contiguous() && y.shape() == Shape({n * (h / k) * (w / k), c}),
                "avgpool: output must be contiguous ", shape_str({n * (h / k) * (w / k), c}),
                ", got ", shape_str(y.shape()));
  be.avgpool_nhwc(x.data<float>(), n, h, w, c, k, y.data<float>());
}


// ---- layouts --------------------------------------------------------------------------------

const char* conv_layout_name(ConvLayout layout) {
  switch (layout) {
    case ConvLayout::kNchw: return "nchw";
    case ConvLayout::kNhwc: return "nhwc";
    case ConvLayout::kBlocked8: return "nChw8c";
    case ConvLayout::kBlocked16: return "nChw16c";
  }
  return "?";
}

int64_t conv_layout_block(ConvLayout layout) {
  switch (layout) {
    case ConvLayout::kBlocked8: return 8;
    case ConvLayout::kBlocked16: return 16;
    default: return 1;
  }
}

int64_t conv_layout_floats(ConvLayout layout, int64_t n, int64_t c, int64_t h, int64_t w) {
  const int64_t b = conv_layout_block(layout);
  return n * ((c + b - 1) / b * b) * h * w;
}

// ---- prepared convolution layers ------------------------------------------------------------

void check_conv_spec(const ConvSpec& s) {
  CLIPKIT_CHECK(s.weight, "conv: the layer has no weight");
  CLIPKIT_CHECK(s.out_channels >= 1 && s.in_channels >= 1 && s.kh >= 1 && s.kw >= 1,
                "conv: weight shape [", s.out_channels, ", ", s.in_channels, ", ", s.kh, ", ", s.kw,
                "] has an empty dimension");
  CLIPKIT_CHECK(s.stride >= 1 && s.pad >= 0, "conv: stride ", s.stride, " and padding ", s.pad,
                " must be >= 1 and >= 0");
  const int given = int(s.bn_mean != nullptr) + int(s.bn_var != nullptr) +
                    int(s.bn_gamma != nullptr) + int(s.bn_beta != nullptr);
  CLIPKIT_CHECK(given == 0 || given == 4, "conv: BatchNorm needs its mean, variance, weight and bias; ",
                given, " of the 4 were given");
  CLIPKIT_CHECK(given == 0 || s.bn_eps >= 0.0f, "conv: BatchNorm eps ", s.bn_eps, " is negative");
  CLIPKIT_CHECK(s.act == Act::kIdentity || s.act == Act::kRelu, "conv: activation ",
                act_name(s.act), " is not supported (identity or relu)");
}

void fold_conv_batchnorm(const ConvSpec& s, double* weight, double* bias) {
  const int64_t per_out = s.in_channels * s.kh * s.kw;
  for (int64_t o = 0; o < s.out_channels; ++o) {
    const double b = s.bias ? double(s.bias[o]) : 0.0;
    double scale = 1.0, shift = b;
    if (s.bn_mean) {
      CLIPKIT_CHECK(double(s.bn_var[o]) + double(s.bn_eps) > 0.0, "conv: BatchNorm variance ",
                    s.bn_var[o], " + eps of output channel ", o, " is not positive");
      scale = double(s.bn_gamma[o]) / std::sqrt(double(s.bn_var[o]) + double(s.bn_eps));
      shift = double(s.bn_beta[o]) + (b - double(s.bn_mean[o])) * scale;
    }
    for (int64_t i = 0; i < per_out; ++i)
      weight[o * per_out + i] = double(s.weight[o * per_out + i]) * scale;
    bias[o] = shift;
  }
}

FeatureMap alloc_feature_map(Workspace& ws, ConvLayout layout, int64_t n, int64_t c, int64_t h,
                             int64_t w) {
  FeatureMap f;
  f.storage = ws.alloc({conv_layout_floats(layout, n, c, h, w)});
  f.n = n, f.c = c, f.h = h, f.w = w;
  f.layout = layout;
  return f;
}

namespace {

const float* optional_vec(const char* what, const Tensor& t, int64_t n) {
  return t.defined() ? detail::vec("conv", what, t, n) : nullptr;
}

void check_map(const char* op, const char* arg, const FeatureMap& f) {
  CLIPKIT_CHECK(f.n >= 1 && f.c >= 1 && f.h >= 1 && f.w >= 1, op, ": feature map '", arg,
                "' has an empty shape [", f.n, ", ", f.c, ", ", f.h, ", ", f.w, "]");
  detail::check_f32(op, arg, f.storage);
  const int64_t need = conv_layout_floats(f.layout, f.n, f.c, f.h, f.w);
  CLIPKIT_CHECK(f.storage.is_contiguous() && f.storage.numel() >= need, op, ": feature map '", arg,
                "' [", f.n, ", ", f.c, ", ", f.h, ", ", f.w, "] in ", conv_layout_name(f.layout),
                " needs ", need, " contiguous floats, its storage has ", f.storage.numel());
}

void run_conv(Backend& be, const ConvLayer& layer, const ConstConvTensor& x, FeatureMap& y) {
  CLIPKIT_CHECK(layer.prepared && layer.prepared_for == &be, "conv: the layer ",
                detail::describe("weight", layer.weight), " is not prepared for backend ",
                be.name());
  const ConvSpec& s = layer.prepared->spec();
  CLIPKIT_CHECK(x.c == s.in_channels, "conv: input has ", x.c, " channels, the layer ",
                detail::describe("weight", layer.weight), " expects ", s.in_channels);
  CLIPKIT_CHECK(x.h + 2 * s.pad >= s.kh && x.w + 2 * s.pad >= s.kw, "conv: kernel ", s.kh, "x",
                s.kw, " with padding ", s.pad, " does not fit a ", x.h, "x", x.w, " input");
  check_map("conv", "y", y);
  CLIPKIT_CHECK(y.n == x.n && y.c == s.out_channels && y.h == s.out_h(x.h) && y.w == s.out_w(x.w),
                "conv: output is [", y.n, ", ", y.c, ", ", y.h, ", ", y.w, "], expected [", x.n,
                ", ", s.out_channels, ", ", s.out_h(x.h), ", ", s.out_w(x.w), "]");
  be.conv(*layer.prepared, x, y.view());
}

}  // namespace

void ConvLayer::prepare(Backend& be) {
  detail::check_f32("conv", "weight", weight);
  CLIPKIT_CHECK(weight.ndim() == 4 && weight.is_contiguous(), "conv: weight ",
                detail::describe("weight", weight), " must be a contiguous [O, C, KH, KW], got ",
                shape_str(weight.shape()));
  ConvSpec s;
  s.weight = weight.data<float>();
  s.out_channels = weight.dim(0), s.in_channels = weight.dim(1);
  s.kh = weight.dim(2), s.kw = weight.dim(3);
  s.stride = stride, s.pad = pad;
  s.bias = optional_vec("bias", bias, s.out_channels);
  s.bn_mean = optional_vec("bn running_mean", bn_mean, s.out_channels);
  s.bn_var = optional_vec("bn running_var", bn_var, s.out_channels);
  s.bn_gamma = optional_vec("bn weight", bn_gamma, s.out_channels);
  s.bn_beta = optional_vec("bn bias", bn_beta, s.out_channels);
  s.bn_eps = bn_eps;
  s.residual = residual;
  s.act = act;
  check_conv_spec(s);
  prepared = be.prepare_conv(s);
  prepared_for = &be;
}

void conv2d(Backend& be, const ConvLayer& layer, const FeatureMap& x, FeatureMap& y) {
  check_map("conv", "x", x);
  CLIPKIT_CHECK(x.storage.raw() != y.storage.raw(), "conv: input and output share memory");
  run_conv(be, layer, x.view(), y);
}

void conv2d(Backend& be, const ConvLayer& layer, const Tensor& x, FeatureMap& y) {
  detail::check_f32("conv", "x", x);
  CLIPKIT_CHECK(x.ndim() == 4 && x.numel() > 0, "conv: input must be a non-empty [N, C, H, W], got ",
                shape_str(x.shape()));
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  const Shape nhwc_strides{h * w * c, 1, w * c, c};
  ConvLayout layout = ConvLayout::kNchw;
  Tensor plain = x;
  if (x.strides() == nhwc_strides)
    layout = ConvLayout::kNhwc;
  else if (!x.is_contiguous())
    plain = x.contiguous();  // an odd view of the pixels: one copy, then NCHW
  run_conv(be, layer, ConstConvTensor{plain.data<float>(), n, c, h, w, layout}, y);
}

void avgpool(Backend& be, const FeatureMap& x, int64_t k, FeatureMap& y) {
  check_map("avgpool", "x", x);
  check_map("avgpool", "y", y);
  CLIPKIT_CHECK(k >= 1 && x.h >= k && x.w >= k, "avgpool: kernel ", k, " larger than input ", x.h,
                "x", x.w);
  CLIPKIT_CHECK(y.layout == x.layout && y.n == x.n && y.c == x.c && y.h == x.h / k &&
                    y.w == x.w / k,
                "avgpool: output [", y.n, ", ", y.c, ", ", y.h, ", ", y.w, "] in ",
                conv_layout_name(y.layout), ", expected [", x.n, ", ", x.c, ", ", x.h / k, ", ",
                x.w / k, "] in ", conv_layout_name(x.layout));
  // Every layout is a sequence of NHWC blocks: (image) for kNhwc, (image, channel) for kNchw,
  // (image, channel block) for the blocked layouts.
  const int64_t b = conv_layout_block(x.layout);
  int64_t groups = x.n, channels = x.c;
  if (x.layout == ConvLayout::kNchw) groups = x.n * x.c, channels = 1;
  if (b > 1) groups = x.n * ((x.c + b - 1) / b), channels = b;
  be.avgpool_nhwc(x.storage.data<float>(), groups, x.h, x.w, channels, k, y.storage.data<float>());
}

void reorder(Backend& be, const FeatureMap& x, FeatureMap& y) {
  check_map("reorder", "x", x);
  check_map("reorder", "y", y);
  CLIPKIT_CHECK(x.n == y.n && x.c == y.c && x.h == y.h && x.w == y.w, "reorder: shapes [", x.n,
                ", ", x.c, ", ", x.h, ", ", x.w, "] and [", y.n, ", ", y.c, ", ", y.h, ", ", y.w,
                "] differ");
  CLIPKIT_CHECK(x.storage.raw() != y.storage.raw(), "reorder: input and output share memory");
  be.conv_reorder(x.view(), y.view());
}

Tensor to_nchw(Backend& be, const FeatureMap& x) {
  FeatureMap y;
  y.storage = Tensor::empty(DType::F32, {x.n, x.c, x.h, x.w});
  y.n = x.n, y.c = x.c, y.h = x.h, y.w = x.w;
  y.layout = ConvLayout::kNchw;
  if (x.layout == ConvLayout::kNchw) {
    check_map("reorder", "x", x);
    std::copy_n(x.storage.data<float>(), x.n * x.c * x.h * x.w, y.storage.data<float>());
  } else {
    reorder(be, x, y);
  }
  return y.storage;
}

}  // namespace clipkit::ops
