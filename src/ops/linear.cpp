#include "ops/linear.h"

#include "core/error.h"
#include "ops/check.h"

namespace clipkit::ops {

using detail::as_mat;
using detail::as_rows;
using detail::describe;

void matmul(Backend& be, const Tensor& a, const Tensor& b, Tensor& c, float alpha, float beta) {
  const Mat ma = as_mat("matmul", "a", a), mb = as_mat("matmul", "b", b);
  int64_t rows, cols, ldc;
  as_rows("matmul", "c", c, &rows, &cols, &ldc);
  CLIPKIT_CHECK(ma.cols == mb.rows && rows == ma.rows && cols == mb.cols,
                "matmul: shapes ", shape_str(a.shape()), " x ", shape_str(b.shape()), " -> ",
                shape_str(c.shape()), " do not agree");
  be.gemm(ma, mb, c.data<float>(), ldc, alpha, beta, nullptr);
}

void linear(Backend& be, const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
            float beta) {
  int64_t m, k, ldx, my, ny, ldy;
  as_rows("linear", "x", x, &m, &k, &ldx);
  as_rows("linear", "y", y, &my, &ny, &ldy);
  const Mat mw = as_mat("linear", "weight", w);
  CLIPKIT_CHECK(mw.cols == k && mw.rows == ny && my == m, "linear: input ", shape_str(x.shape()),
                ", weight ", describe("weight", w), " ", shape_str(w.shape()), " and output ",
                shape_str(y.shape()), " do not agree (weight must be [out, in])");
  const float* b = bias ? detail::vec("linear", "bias", *bias, ny) : nullptr;
  be.gemm(Mat::rows_of(x.data<float>(), m, k, ldx), mw.t(), y.data<float>(), ldy, 1.0f, beta, b);
}

namespace {
WeightRef weight_ref(const LinearWeight& lw) {
  const Tensor& w = lw.weight;
  CLIPKIT_CHECK(w.defined() && w.ndim() == 2, "linear: weight must be a 2-D tensor, got ",
                w.defined() ? shape_str(w.shape()) : std::string("nothing"));
  const DType dt = w.dtype();
  CLIPKIT_CHECK(dt == DType::F32 || dt == DType::F16 || dt == DType::BF16 || dt == DType::I8,
                "linear: weight ", describe("weight", w), " has dtype ", dtype_name(dt),
                ", expected F32, F16, BF16 or I8");
  CLIPKIT_CHECK(w.strides()[0] == 1 || w.strides()[1] == 1, "linear: weight ",
                describe("weight", w), " has strides ", shape_str(w.strides()),
                " without a unit stride");
  WeightRef r;
  r.data = w.raw();
  r.dtype = dt;
  r.rows = w.dim(0);
  r.cols = w.dim(1);
  r.row_stride = w.strides()[0];
  r.col_stride = w.strides()[1];
  if (dt == DType::I8) {
    CLIPKIT_CHECK(lw.scale.defined() && lw.scale.dtype() == DType::F32 &&
                      lw.scale.shape() == Shape({r.rows}) && lw.scale.is_contiguous(),
                  "linear: int8 weight ", describe("weight", w), " needs a contiguous F32 scale [",
                  r.rows, "]");
    CLIPKIT_CHECK(r.col_stride == 1, "linear: int8 weight ", describe("weight", w),
                  " needs contiguous rows");
    r.scale = lw.scale.data<float>();
  }
  return r;
}
}  // namespace

void LinearWeight::prepare(Backend& be) { prepared = be.prepare_linear(weight_ref(*this)); }

void linear(Backend& be, const Tensor& x, const LinearWeight& lw, Tensor& y, Act act,
            bool accumulate) {
  int64_t m, k, ldx, my, ny, ldy;
  as_rows("linear", "x", x, &m, &k, &ldx);
  as_rows("linear", "y", y, &my, &ny, &ldy);
  LinearArgs a;
  a.w = weight_ref(lw);
  CLIPKIT_CHECK(a.w.cols == k && a.w.rows == ny && my == m, "linear: input ", shape_str(x.shape()),
                ", weight ", describe("weight", lw.weight), " ", shape_str(lw.weight.shape()),
                " and output ", shape_str(y.shape()), " do not agree (weight must be [out, in])");
  a.x = x.data<float>();
  a.m = m;
  a.ldx = ldx;
  a.prepared = lw.prepared.get();
  a.bias = lw.bias.defined() ? detail::vec("linear", "bias", lw.bias, ny) : nullptr;
  a.act = act;
  a.accumulate = accumulate;
  a.y = y.data<float>();
  a.ldy = ldy;
  be.linear(a);
}

void linear_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx,
                     Tensor* dw, Tensor* db, bool accumulate) {
  int64_t m, k, ldx, mdy, n, lddy;
  as_rows("linear_backward", "x", x, &m, &k, &ldx);
  as_rows("linear_backward", "dy", dy, &mdy, &n, &lddy);
  const Mat mw = as_mat("linear_backward", "weight", w);
  CLIPKIT_CHECK(mw.rows == n && mw.cols == k && mdy == m, "linear_backward: x ",
                shape_str(x.shape()), ", weight ", shape_str(w.shape()), ", dy ",
                shape_str(dy.shape()), " do not agree");
  const Mat mx = Mat::rows_of(x.data<float>(), m, k, ldx);
  const Mat mdym = Mat::rows_of(dy.data<float>(), m, n, lddy);
  if (dx) {
    int64_t r, c, ld;
    as_rows("linear_backward", "dx", *dx, &r, &c, &ld);
    CLIPKIT_CHECK(r == m && c == k, "linear_backward: dx has shape ", shape_str(dx->shape()),
                  ", expected ", shape_str(x.shape()));
    be.gemm(mdym, mw, dx->data<float>(), ld, 1.0f, 0.0f, nullptr);  // dX = dY W
  }
  if (dw) {
    int64_t r, c, ld;
    as_rows("linear_backward", "dw", *dw, &r, &c, &ld);
    CLIPKIT_CHECK(r == n && c == k, "linear_backward: dw has shape ", shape_str(dw->shape()),
                  ", expected ", shape_str(w.shape()));
    be.gemm(mdym.t(), mx, dw->data<float>(), ld, 1.0f, accumulate ? 1.0f : 0.0f, nullptr);
  }
  if (db) {
    float* out = const_cast<float*>(detail::vec("linear_backward", "db", *db, n));
    be.col_sum(dy.data<float>(), m, n, lddy, out, accumulate);
  }
}

}  // namespace clipkit::ops
