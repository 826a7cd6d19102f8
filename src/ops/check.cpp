#include "ops/check.h"

#include "core/error.h"

namespace clipkit::ops {

const char* act_name(Act a) {
  switch (a) {
    case Act::kIdentity: return "identity";
    case Act::kRelu: return "relu";
    case Act::kQuickGelu: return "quick_gelu";
    case Act::kGelu: return "gelu";
  }
  return "?";
}

namespace detail {

std::string describe(const char* arg, const Tensor& t) {
  std::string s = std::string("'") + arg + "'";
  if (!t.name().empty()) s += " (tensor '" + t.name() + "')";
  return s;
}

void check_f32(const char* op, const char* arg, const Tensor& t) {
  CLIPKIT_CHECK(t.defined(), op, ": argument ", describe(arg, t), " is undefined");
  CLIPKIT_CHECK(t.dtype() == DType::F32, op, ": argument ", describe(arg, t), " must be F32, got ",
                dtype_name(t.dtype()));
}

void check_shape(const char* op, const char* arg, const Tensor& t, const Shape& shape) {
  bool ok = t.ndim() == int(shape.size());
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || shape[i] == t.shape()[i];
  CLIPKIT_CHECK(ok, op, ": argument ", describe(arg, t), " has shape ", shape_str(t.shape()),
                ", expected ", shape_str(shape));
}

Mat as_mat(const char* op, const char* arg, const Tensor& t) {
  check_f32(op, arg, t);
  CLIPKIT_CHECK(t.ndim() == 2, op, ": argument ", describe(arg, t), " must be 2-D, got shape ",
                shape_str(t.shape()));
  Mat m{t.data<float>(), t.shape()[0], t.shape()[1], t.strides()[0], t.strides()[1]};
  // A dimension of size 1 can take any stride; normalise so the unit-stride test below holds.
  if (m.cols == 1) m.col_stride = 1;
  if (m.rows == 1 && m.col_stride != 1) m.row_stride = 1;
  CLIPKIT_CHECK(m.col_stride == 1 || m.row_stride == 1, op, ": argument ", describe(arg, t),
                " with strides ", shape_str(t.strides()), " has no unit stride");
  if (m.col_stride == 1 && m.row_stride < m.cols) m.row_stride = m.cols;  // rows == 1
  if (m.row_stride == 1 && m.col_stride < m.rows) m.col_stride = m.rows;  // cols == 1
  return m;
}

void as_rows(const char* op, const char* arg, const Tensor& t, int64_t* rows, int64_t* cols,
             int64_t* ld) {
  check_f32(op, arg, t);
  CLIPKIT_CHECK(t.ndim() >= 1, op, ": argument ", describe(arg, t), " is a scalar");
  *cols = t.shape().back();
  if (t.ndim() == 2 && (t.strides()[1] == 1 || t.shape()[1] == 1) &&
      (t.strides()[0] >= *cols || t.shape()[0] <= 1)) {
    *rows = t.shape()[0];
    *ld = t.shape()[0] <= 1 ? *cols : t.strides()[0];
    return;
  }
  CLIPKIT_CHECK(t.is_contiguous(), op, ": argument ", describe(arg, t), " with shape ",
                shape_str(t.shape()), " and strides ", shape_str(t.strides()),
                " must have contiguous rows");
  *rows = *cols == 0 ? 0 : t.numel() / *cols;
  *ld = *cols;
}

const float* vec(const char* op, const char* arg, const Tensor& t, int64_t n) {
  check_f32(op, arg, t);
  CLIPKIT_CHECK(t.numel() == n && (t.ndim() <= 1 || t.is_contiguous()) &&
                    (t.ndim() == 0 || t.strides().back() == 1 || n <= 1),
                op, ": argument ", describe(arg, t), " has shape ", shape_str(t.shape()),
                ", expected a contiguous vector of ", n, " elements");
  return t.data<float>();
}

}  // namespace detail
}  // namespace clipkit::ops
