#include "ops/softmax.h"

#include "core/error.h"
#include "ops/check.h"

namespace clipkit::ops {

void softmax(Backend& be, const Tensor& x, Tensor& y) {
  detail::check_f32("softmax", "x", x);
  detail::check_f32("softmax", "y", y);
  CLIPKIT_CHECK(x.is_contiguous() && y.is_contiguous() && x.shape() == y.shape() && x.ndim() >= 1,
                "softmax: x ", shape_str(x.shape()), " and y ", shape_str(y.shape()),
                " must be contiguous and of one shape");
  const int64_t cols = x.shape().back();
  be.softmax(x.data<float>(), y.data<float>(), cols ? x.numel() / cols : 0, cols);
}

void softmax_backward(Backend& be, const Tensor& y, const Tensor& dy, Tensor& dx) {
  for (const Tensor* t : std::initializer_list<const Tensor*>{&y, &dy, &dx}) {
    detail::check_f32("softmax_backward", "argument", *t);
    CLIPKIT_CHECK(t->is_contiguous() && t->shape() == y.shape() && y.ndim() >= 1,
                  "softmax_backward: tensors of shapes ", shape_str(y.shape()), " and ",
                  shape_str(t->shape()), " must be contiguous and of one shape");
  }
  const int64_t cols = y.shape().back();
  be.softmax_backward(y.data<float>(), dy.data<float>(), dx.data<float>(),
                      cols ? y.numel() / cols : 0, cols);
}

}  // namespace clipkit::ops
