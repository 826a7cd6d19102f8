#include "ops/pointwise.h"

#include "core/error.h"
#include "ops/check.h"

namespace clipkit::ops {

namespace {
void same_contiguous(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor& first = **ts.begin();
  for (const Tensor* t : ts) {
    detail::check_f32(op, "argument", *t);
    CLIPKIT_CHECK(t->is_contiguous() && t->shape() == first.shape(), op, ": tensors of shapes ",
                  shape_str(first.shape()), " and ", shape_str(t->shape()),
                  " must be contiguous and of one shape");
  }
}
}  // namespace

void activation(Backend& be, Act act, const Tensor& x, Tensor& y) {
  same_contiguous("activation", {&x, &y});
  be.activation(act, x.data<float>(), y.data<float>(), x.numel());
}

void activation_backward(Backend& be, Act act, const Tensor& x, const Tensor& dy, Tensor& dx) {
  same_contiguous("activation_backward", {&x, &dy, &dx});
  be.activation_backward(act, x.data<float>(), dy.data<float>(), dx.data<float>(), x.numel());
}

void add(Backend& be, const Tensor& a, const Tensor& b, Tensor& y) {
  same_contiguous("add", {&a, &b, &y});
  be.add(a.data<float>(), b.data<float>(), y.data<float>(), a.numel());
}

}  // namespace clipkit::ops
