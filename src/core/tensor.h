// Tensor: a typed, strided view of memory plus a shared owner that keeps the memory alive (an
// owned aligned buffer, a memory-mapped file, or nothing for a borrowed view). Copying a Tensor
// copies the view, never the data. Shapes are row-major by default; strides are in elements and
// allow zero-copy transposed views (for instance a checkpoint's [in, out] projection seen as
// [out, in]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace clipkit {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

class Tensor {
 public:
  Tensor() = default;

  // A new zero-filled, 64-byte aligned, contiguous tensor.
  static Tensor zeros(DType dtype, Shape shape);
  // A new uninitialised contiguous tensor (use when every element will be written).
  static Tensor empty(DType dtype, Shape shape);
  // A view of memory owned by `owner` (which may be null for a borrowed view the caller keeps
  // alive). Strides default to row-major.
  static Tensor view(std::shared_ptr<const void> owner, const void* data, DType dtype, Shape shape,
                     Shape strides = {});

  bool defined() const { return defined_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  int ndim() const { return int(shape_.size()); }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;

  const std::string& name() const { return name_; }
  Tensor& set_name(std::string n) {
    name_ = std::move(n);
    return *this;
  }

  template <typename T>
  T* data() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(data_);
  }
  void* raw() { return data_; }
  const void* raw() const { return data_; }
  const std::shared_ptr<const void>& owner() const { return owner_; }

  // Views (no copy). transpose() swaps the two last dimensions; slice() takes [begin, end) along
  // dimension `dim`; reshape() requires a contiguous tensor.
  Tensor transpose() const;
  Tensor slice(int dim, int64_t begin, int64_t end) const;
  Tensor reshape(Shape shape) const;
  // Row `i` of the first dimension.
  Tensor operator[](int64_t i) const { return slice(0, i, i + 1).squeeze0(); }

  // A contiguous copy converted to `dtype` (F16/BF16/F32/F64 between each other, integer types
  // among themselves). Returns *this unchanged when already contiguous and of that dtype.
  Tensor to(DType dtype) const;
  Tensor contiguous() const { return to(dtype_); }
  Tensor clone() const;

 private:
  Tensor squeeze0() const;

  std::shared_ptr<const void> owner_;
  void* data_ = nullptr;
  DType dtype_ = DType::F32;
  Shape shape_;
  Shape strides_;
  std::string name_;
  bool defined_ = false;
};

// Row-major strides for a shape.
Shape contiguous_strides(const Shape& shape);

}  // namespace clipkit
