#include "ops/norm.h"

#include "core/error.h"
#include "ops/check.h"

namespace clipkit::ops {

using detail::as_rows;
using detail::vec;

void layernorm(Backend& be, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
               Tensor& y, Tensor* mean, Tensor* rstd) {
  int64_t rows, cols, ldx, ry, cy, ldy;
  as_rows("layernorm", "x", x, &rows, &cols, &ldx);
  as_rows("layernorm", "y", y, &ry, &cy, &ldy);
  CLIPKIT_CHECK(ry == rows && cy == cols, "layernorm: output shape ", shape_str(y.shape()),
                " differs from input shape ", shape_str(x.shape()));
  const float* g = vec("layernorm", "weight", gamma, cols);
  const float* b = vec("layernorm", "bias", beta, cols);
  float* m = mean ? const_cast<float*>(vec("layernorm", "mean", *mean, rows)) : nullptr;
  float* r = rstd ? const_cast<float*>(vec("layernorm", "rstd", *rstd, rows)) : nullptr;
  be.layernorm(x.data<float>(), rows, cols, ldx, g, b, eps, y.data<float>(), ldy, m, r);
}

void layernorm_backward(Backend& be, const Tensor& x, const Tensor& dy, const Tensor& gamma,
                        const Tensor& mean, const Tensor& rstd, Tensor& dx, Tensor* dgamma,
                        Tensor* dbeta) {
  const char* op = "layernorm_backward";
  detail::check_f32(op, "x", x);
  CLIPKIT_CHECK(x.is_contiguous() && dy.is_contiguous() && dx.is_contiguous() &&
                    dy.shape() == x.shape() && dx.shape() == x.shape() && x.ndim() >= 1,
                op, ": x ", shape_str(x.shape()), ", dy ", shape_str(dy.shape()), ", dx ",
                shape_str(dx.shape()), " must be contiguous and of one shape");
  const int64_t cols = x.shape().back(), rows = cols ? x.numel() / cols : 0;
  be.layernorm_backward(x.data<float>(), dy.data<float>(), rows, cols,
                        vec(op, "weight", gamma, cols), vec(op, "mean", mean, rows),
                        vec(op, "rstd", rstd, rows), dx.data<float>(),
                        dgamma ? const_cast<float*>(vec(op, "dgamma", *dgamma, cols)) : nullptr,
                        dbeta ? const_cast<float*>(vec(op, "dbeta", *dbeta, cols)) : nullptr);
}

void batchnorm(Backend& be, const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
               const Tensor& gamma, const Tensor& beta, float eps, bool relu, Tensor& y) {
  int64_t rows, c, ldx, ry, cy, ldy;
  as_rows("batchnorm", "x", x, &rows, &c, &ldx);
  as_rows("batchnorm", "y", y, &ry, &cy, &ldy);
  CLIPKIT_CHECK(ry == rows && cy == c, "batchnorm: output shape ", shape_str(y.shape()),
                " differs from input shape ", shape_str(x.shape()));
  be.batchnorm(x.data<float>(), rows, c, ldx, vec("batchnorm", "running_mean", running_mean, c),
               vec("batchnorm", "running_var", running_var, c), vec("batchnorm", "weight", gamma, c),
               vec("batchnorm", "bias", beta, c), eps, relu, y.data<float>(), ldy);
}

void l2_normalize(Backend& be, const Tensor& x, Tensor& y) {
  detail::check_f32("l2_normalize", "x", x);
  CLIPKIT_CHECK(x.is_contiguous() && y.is_contiguous() && x.shape() == y.shape() && x.ndim() >= 1,
                "l2_normalize: x ", shape_str(x.shape()), " and y ", shape_str(y.shape()),
                " must be contiguous and of one shape");
  const int64_t cols = x.shape().back();
  be.l2_normalize(x.data<float>(), cols ? x.numel() / cols : 0, cols, y.data<float>());
}

}  // namespace clipkit::ops
