#include "ops/embedding.h"

#include "core/error.h"
#include "ops/check.h"

namespace clipkit::ops {

void embedding(const Tensor& table, const Tensor& ids, const Tensor* positions, Tensor& y) {
  const Mat tab = detail::as_mat("embedding", "table", table);
  CLIPKIT_CHECK(tab.col_stride == 1, "embedding: table ", detail::describe("table", table),
                " needs contiguous rows");
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
      const float* e = tab.data + id * tab.row_stride;
      float* o = out + (r * t + p) * w;
      if (positions) {
        const float* q = pos.data + p * pos.row_stride;
        for (int64_t c = 0; c < w; ++c) o[c] = e[c] + q[c];
      } else {
        for (int64_t c = 0; c < w; ++c) o[c] = e[c];
      }
    }
  }
}

}  // namespace clipkit::ops
