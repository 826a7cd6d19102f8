#include "ops/conv.h"

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

}  // namespace clipkit::ops
