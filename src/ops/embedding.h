// Token embedding lookup with added positions (the input of the text transformer):
//   y[n, t, :] = table[ids[n, t], :] + positions[t, :]
// Backward (for later training): dtable[ids[n, t]] += dy[n, t];  dpositions[t] += sum_n dy[n, t].
#pragma once

#include "core/tensor.h"

namespace clipkit::ops {

// table [V, W] (any row stride, unit column stride), ids I32 or I64 [N, T], positions [>=T, W]
// (first T rows used) or null; y [N, T, W] contiguous. An id outside [0, V) throws an Error naming
// the row and position.
void embedding(const Tensor& table, const Tensor& ids, const Tensor* positions, Tensor& y);

}  // namespace clipkit::ops
