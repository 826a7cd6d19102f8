// Argument checks shared by the op functions: every op validates dtype, rank and shapes of the
// tensors it is given and throws clipkit::Error naming the op, the argument (and the tensor's own
// name when it has one, e.g. a checkpoint parameter) and the expected shape.
#pragma once

#include <string>

#include "core/tensor.h"
#include "ops/backend.h"

namespace clipkit::ops::detail {

// "'x'" or "'x' (tensor 'text.blocks.0.ln_1.weight')".
std::string describe(const char* arg, const Tensor& t);
// Float32 and defined.
void check_f32(const char* op, const char* arg, const Tensor& t);
// Exactly `shape` (use -1 for "any").
void check_shape(const char* op, const char* arg, const Tensor& t, const Shape& shape);
// A float32 matrix view of a 2-D tensor with a unit stride in one dimension.
Mat as_mat(const char* op, const char* arg, const Tensor& t);
// Rows of a tensor seen as [rows, last_dim] with contiguous rows: a 2-D tensor with unit column
// stride (any row stride) or any contiguous tensor. Writes the row stride.
void as_rows(const char* op, const char* arg, const Tensor& t, int64_t* rows, int64_t* cols,
             int64_t* ld);
// A float32 vector of n elements, contiguous.
const float* vec(const char* op, const char* arg, const Tensor& t, int64_t n);

}  // namespace clipkit::ops::detail
