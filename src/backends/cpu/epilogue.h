// The activation step of the linear layer's epilogue, shared by its kernels (vectorised through
// vec_math.h).
#pragma once

#include <cstdint>

#include "backends/cpu/vec_math.h"
#include "ops/backend.h"

namespace clipkit::cpu {

// y = act(y) over a [rows, cols] block with row stride ldy.
inline void apply_activation(ops::Act act, float* y, int64_t rows, int64_t cols, int64_t ldy) {
  if (act == ops::Act::kIdentity) return;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * ldy;
    switch (act) {
      case ops::Act::kRelu:
        for (int64_t c = 0; c < cols; ++c) row[c] = max_f(row[c], 0.0f);
        break;
      case ops::Act::kQuickGelu:
        quick_gelu_n(row, row, cols);
        break;
      case ops::Act::kGelu:
        gelu_n(row, row, cols);
        break;
      case ops::Act::kIdentity:
        break;
    }
  }
}

}  // namespace clipkit::cpu
