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
