#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/error.h"

namespace clipkit {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

namespace {
std::shared_ptr<void> aligned_buffer(size_t bytes) {
  const size_t rounded = ((bytes + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) fail("out of memory allocating ", bytes, " bytes");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}
}  // namespace

Tensor Tensor::empty(DType dtype, Shape shape) {
  for (int64_t d : shape) CLIPKIT_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  Tensor t;
  auto buf = aligned_buffer(size_t(shape_numel(shape)) * dtype_size(dtype));
  t.data_ = buf.get();
  t.owner_ = std::move(buf);
  t.dtype_ = dtype;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  t.defined_ = true;
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t = empty(dtype, std::move(shape));
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::view(std::shared_ptr<const void> owner, const void* data, DType dtype, Shape shape,
                    Shape strides) {
  Tensor t;
  t.owner_ = std::move(owner);
  t.data_ = const_cast<void*>(data);
  t.dtype_ = dtype;
  t.strides_ = strides.empty() ? contiguous_strides(shape) : std::move(strides);
  CLIPKIT_CHECK(t.strides_.size() == shape.size(), "strides ", shape_str(t.strides_),
                " do not match shape ", shape_str(shape));
  t.shape_ = std::move(shape);
  t.defined_ = true;
  return t;
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_); }

Tensor Tensor::transpose() const {
  CLIPKIT_CHECK(ndim() >= 2, "transpose of tensor '", name_, "' with shape ", shape_str(shape_));
  Tensor t = *this;
  std::swap(t.shape_[ndim() - 1], t.shape_[ndim() - 2]);
  std::swap(t.strides_[ndim() - 1], t.strides_[ndim() - 2]);
  return t;
}

Tensor Tensor::slice(int dim, int64_t begin, int64_t end) const {
  if (dim < 0) dim += ndim();
  CLIPKIT_CHECK(dim >= 0 && dim < ndim() && begin >= 0 && begin <= end && end <= shape_[dim],
                "slice [", begin, ", ", end, ") of dimension ", dim, " out of range for tensor '",
                name_, "' with shape ", shape_str(shape_));
  Tensor t = *this;
  t.data_ = static_cast<char*>(data_) + begin * strides_[dim] * int64_t(dtype_size(dtype_));
  t.shape_[dim] = end - begin;
  return t;
}

Tensor Tensor::squeeze0() const {
  Tensor t = *this;
  t.shape_.erase(t.shape_.begin());
  t.strides_.erase(t.strides_.begin());
  return t;
}

Tensor Tensor::reshape(Shape shape) const {
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      CLIPKIT_CHECK(infer < 0, "reshape with two -1 dimensions");
      infer = int(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known > 0) shape[infer] = numel() / known;
  CLIPKIT_CHECK(shape_numel(shape) == numel(), "cannot reshape tensor '", name_, "' of shape ",
                shape_str(shape_), " to ", shape_str(shape));
  CLIPKIT_CHECK(is_contiguous(), "reshape of non-contiguous tensor '", name_, "'");
  Tensor t = *this;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  return t;
}

namespace {

bool is_float(DType t) {
  return t == DType::F64 || t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

double load_element(const char* p, DType t) {
  switch (t) {
    case DType::F64: { double v; std::memcpy(&v, p, 8); return v; }
    case DType::F32: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::F16: { uint16_t v; std::memcpy(&v, p, 2); return f16_to_f32(v); }
    case DType::BF16: { uint16_t v; std::memcpy(&v, p, 2); return bf16_to_f32(v); }
    case DType::I64: { int64_t v; std::memcpy(&v, p, 8); return double(v); }
    case DType::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case DType::I16: { int16_t v; std::memcpy(&v, p, 2); return v; }
    case DType::I8: return double(*reinterpret_cast<const int8_t*>(p));
    case DType::U8: return double(*reinterpret_cast<const uint8_t*>(p));
    case DType::BOOL: return *p ? 1.0 : 0.0;
  }
  return 0;
}

void store_element(char* p, DType t, double v) {
  switch (t) {
    case DType::F64: std::memcpy(p, &v, 8); break;
    case DType::F32: { float f = float(v); std::memcpy(p, &f, 4); break; }
    case DType::F16: { uint16_t h = f32_to_f16(float(v)); std::memcpy(p, &h, 2); break; }
    case DType::BF16: { uint16_t h = f32_to_bf16(float(v)); std::memcpy(p, &h, 2); break; }
    case DType::I64: { int64_t i = int64_t(v); std::memcpy(p, &i, 8); break; }
    case DType::I32: { int32_t i = int32_t(v); std::memcpy(p, &i, 4); break; }
    case DType::I16: { int16_t i = int16_t(v); std::memcpy(p, &i, 2); break; }
    case DType::I8: *reinterpret_cast<int8_t*>(p) = int8_t(v); break;
    case DType::U8: *reinterpret_cast<uint8_t*>(p) = uint8_t(v); break;
    case DType::BOOL: *p = v != 0; break;
  }
}

}  // namespace

// Visits every element of `src` in row-major order, calling fn(src_ptr, linear_index).
template <typename Fn>
static void for_each_strided(const Tensor& src, Fn fn) {
  const int nd = src.ndim();
  const int64_t n = src.numel();
  if (n == 0) return;
  const size_t es = dtype_size(src.dtype());
  std::vector<int64_t> idx(nd, 0);
  const char* base = static_cast<const char*>(src.raw());
  for (int64_t lin = 0; lin < n; ++lin) {
    int64_t off = 0;
    for (int d = 0; d < nd; ++d) off += idx[d] * src.strides()[d];
    fn(base + off * int64_t(es), lin);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < src.shape()[d]) break;
      idx[d] = 0;
    }
  }
}

Tensor Tensor::to(DType dtype) const {
  CLIPKIT_CHECK(defined_, "conversion of an undefined tensor");
  if (dtype == dtype_ && is_contiguous()) return *this;
  CLIPKIT_CHECK(is_float(dtype) == is_float(dtype_), "cannot convert tensor '", name_, "' from ",
                dtype_name(dtype_), " to ", dtype_name(dtype));
  Tensor out = empty(dtype, shape_);
  out.name_ = name_;
  char* dst = static_cast<char*>(out.data_);
  const size_t ds = dtype_size(dtype);
  const int64_t n = numel();
  if (is_contiguous() && dtype == DType::F32 && dtype_ == DType::F16) {
    const uint16_t* s = static_cast<const uint16_t*>(data_);
    float* d = out.data<float>();
    for (int64_t i = 0; i < n; ++i) d[i] = f16_to_f32(s[i]);
  } else if (is_contiguous() && dtype == DType::F32 && dtype_ == DType::BF16) {
    const uint16_t* s = static_cast<const uint16_t*>(data_);
    float* d = out.data<float>();
    for (int64_t i = 0; i < n; ++i) d[i] = bf16_to_f32(s[i]);
  } else if (dtype == dtype_) {
    for_each_strided(*this, [&](const char* p, int64_t i) { std::memcpy(dst + i * ds, p, ds); });
  } else {
    const DType src_t = dtype_;
    for_each_strided(*this, [&](const char* p, int64_t i) {
      store_element(dst + i * ds, dtype, load_element(p, src_t));
    });
  }
  return out;
}

Tensor Tensor::clone() const {
  if (!is_contiguous()) return to(dtype_);
  Tensor out = empty(dtype_, shape_);
  out.name_ = name_;
  std::memcpy(out.data_, data_, nbytes());
  return out;
}

}  // namespace clipkit
