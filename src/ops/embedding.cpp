#include "ops/embedding.h"

#include "core/dtype.h"
#include "core/error.h"
#include "ops/check.h"

namespace clipkit::ops {

void embedding(const Tensor& table, const Tensor& ids, const Tensor* positions, Tensor& y) {
  // The table may stay in its stored 16-bit precision (a vocabulary of 49,408 rows is the largest
  // tensor of a text tower); its rows are widened (exactly) as they are gathered.
  const DType tdt = table.dtype();
  CLIPKIT_CHECK(table.ndim() == 2 && (tdt == DType::F32 || tdt == DType::F16 || tdt == DType::BF16),
                "embedding: table ", detail::describe("table", table),
                " must be a 2-D F32, F16 or BF16 tensor, got ", dtype_name(tdt), " ",
                shape_str(table.shape()));
  CLIPKIT_CHECK(table.strides()[1] == 1, "embedding: table ", detail::describe("table", table),
                " needs contiguous rows");
  struct {
    int64_t rows, cols, row_stride;
  } tab{table.dim(0), table.dim(1), table.strides()[0]};
  CLIPKIT_CHECK((ids.dtype() == DType::I32 || ids.dtype() == DType::I64) && ids.ndim() == 2 &&
                    ids.is_contiguous(),
                "embedding: ids must be contiguous I32 or I64 [N, T], got ",
                dtype_name(ids.dtype()), " ", shape_str(ids.shape()));
  const int64_t n = ids.dim(0), t = ids.dim(1), w = tab.cols;
  detail::check_f32("embedding", "y", y);
  CLIPKIT_CHECK(y.is_contiguous() && y.shape() == Shape({n, t, w}), "embedding: output must be ",
                shape_str({n, t, w}), ", got ", shape_str(y.shape()));
  Mat pos{};
  if (positions) {
    pos = detail::as_mat("embedding", "positions", *positions);
    CLIPKIT_CHECK(pos.col_stride == 1 && pos.cols == w && pos.rows >= t, "embedding: positions ",
                  detail::describe("positions", *positions), " of shape ",
                  shape_str(positions->shape()), " cannot serve ", t, " tokens of width ", w);
  }
  float* out = y.data<float>();
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t p = 0; p < t; ++p) {
      const int64_t id = ids.dtype() == DType::I32 ? int64_t(ids.data<int32_t>()[r * t + p])
                                                   : ids.data<int64_t>()[r * t + p];
      CLIPKIT_CHECK(id >= 0 && id < tab.rows, "embedding: token id ", id, " at row ", r,
                    ", position ", p, " is outside the vocabulary [0, ", tab.rows, ")");
      float* o = out + (r * t + p) * w;
      if (tdt == DType::F32) {
        const float* e = table.data<float>() + id * tab.row_stride;
        for (int64_t c = 0; c < w; ++c) o[c] = e[c];
      } else {
        const uint16_t* e = static_cast<const uint16_t*>(table.raw()) + id * tab.row_stride;
        if (tdt == DType::F16) {
          for (int64_t c = 0; c < w; ++c) o[c] = f16_to_f32(e[c]);
        } else {
          for (int64_t c = 0; c < w; ++c) o[c] = bf16_to_f32(e[c]);
        }
      }
      if (positions) {
        const float* q = pos.data + p * pos.row_stride;
        for (int64_t c = 0; c < w; ++c) o[c] = o[c] + q[c];
      }
    }
  }
}

}  // namespace clipkit::ops
