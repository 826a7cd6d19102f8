// Matrix products and the linear layer.
//
// matmul:   C = alpha * A B + beta * C
//   backward: dA = alpha * dC B^T,  dB = alpha * A^T dC,  (dC flows on as beta * dC)
// linear:   Y = X W^T + b            X [M, K], W [N, K] (PyTorch nn.Linear layout), b [N]
//   backward: dX = dY W,  dW = dY^T X,  db = sum over rows of dY
//
// Weights may be any strided view with a unit stride in one dimension (a checkpoint's [in, out]
// projection seen transposed, a row block of a fused in_proj matrix): the GEMM reads them in place.
// Activations are 2-D with contiguous rows (any row stride, so a column block of a wider buffer
// works) or contiguous N-D tensors flattened to [rows, last_dim].
#pragma once

#include "core/tensor.h"
#include "ops/backend.h"

namespace clipkit::ops {

// a [M, K], b [K, N], c [M, N] (c with contiguous rows).
void matmul(Backend& be, const Tensor& a, const Tensor& b, Tensor& c, float alpha = 1.0f,
            float beta = 0.0f);

// y = x w^T + bias + beta * y. bias may be null. With beta = 1 this adds the layer's output to y
// in place (a residual connection fused into the GEMM).
void linear(Backend& be, const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
            float beta = 0.0f);

// A linear layer's parameters as a model holds them: the weight [N, K] in its stored precision (F32
// view into the checkpoint, F16, BF16, or I8 with `scale` [N]), the bias [N] (F32, may be
// undefined) and the backend's prepared form of the weight (may be null).
struct LinearWeight {
  Tensor weight;
  Tensor scale;  // I8 only
  Tensor bias;
  std::shared_ptr<const PreparedWeight> prepared;

  int64_t out_features() const { return weight.dim(0); }
  int64_t in_features() const { return weight.dim(1); }
  // Makes `prepared` for backend `be` (replacing an earlier one).
  void prepare(Backend& be);
};

// y = act(x W^T + b), or y += act(x W^T + b) with `accumulate` (a residual branch fused into the
// layer). The backend computes every weight precision (ops::Backend::linear).
void linear(Backend& be, const Tensor& x, const LinearWeight& w, Tensor& y, Act act = Act::kIdentity,
            bool accumulate = false);

// Gradients of linear. Any of dx, dw, db may be null. dw and db are overwritten, or added to when
// `accumulate` (gradient accumulation across layers sharing weights or micro-batches).
void linear_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx,
                     Tensor* dw, Tensor* db, bool accumulate = false);

}  // namespace clipkit::ops
