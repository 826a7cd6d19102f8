// The reference kernels: the plain scalar definition of every op of src/ops/backend.h, written for
// clarity, never optimised. They accumulate in float64 whatever the element type, so they are the
// oracle the fast backends are tested against. Each is a template instantiated for float (used by
// RefBackend) and double (used by finite-difference gradient tests and the float64 checks against
// the fixtures' .f64 goldens).
//
// The mathematics of each kernel is documented once, on the matching Backend method.
#pragma once

#include <cstdint>

#include "ops/backend.h"

namespace clipkit::ref {

using ops::Act;

template <typename T>
void gemm(const ops::BasicMat<T>& a, const ops::BasicMat<T>& b, T* c, int64_t ldc, T alpha, T beta,
          const T* bias);
template <typename T>
void col_sum(const T* x, int64_t rows, int64_t cols, int64_t ldx, T* out, bool accumulate);

template <typename T>
void layernorm(const T* x, int64_t rows, int64_t cols, int64_t ldx, const T* gamma, const T* beta,
               T eps, T* y, int64_t ldy, T* mean_out, T* rstd_out);
template <typename T>
void layernorm_backward(const T* x, const T* dy, int64_t rows, int64_t cols, const T* gamma,
                        const T* mean, const T* rstd, T* dx, T* dgamma, T* dbeta);
template <typename T>
void batchnorm(const T* x, int64_t rows, int64_t channels, int64_t ldx, const T* mean, const T* var,
               const T* gamma, const T* beta, T eps, bool relu, T* y, int64_t ldy);
template <typename T>
void l2_normalize(const T* x, int64_t rows, int64_t cols, T* y);

// act(x) for one value, and act'(x); shared with the cpu backend's scalar tails so both backends
// agree on the definition.
template <typename T>
T activation_value(Act act, T x);
template <typename T>
T activation_derivative(Act act, T x);
template <typename T>
void activation(Act act, const T* x, T* y, int64_t n);
template <typename T>
void activation_backward(Act act, const T* x, const T* dy, T* dx, int64_t n);
template <typename T>
void add(const T* a, const T* b, T* y, int64_t n);

// One row of the int8 linear layer's activation quantisation (ops::Backend::linear): q [k] in
// [0, 127], the row's scale and zero point. Fast backends must produce the same bytes.
void quantize_activation_row(const float* x, int64_t k, uint8_t* q, float* scale, int32_t* zero);

template <typename T>
void softmax(const T* x, T* y, int64_t rows, int64_t cols);
template <typename T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols);
template <typename T>
void attention(const ops::BasicAttentionArgs<T>& args);
template <typename T>
void attention_backward(const ops::BasicAttentionArgs<T>& args,
                        const ops::BasicAttentionGrads<T>& grads);

template <typename T>
void im2col(const ops::BasicIm2ColArgs<T>& args);
template <typename T>
void avgpool_nhwc(const T* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, T* y);

template <typename T>
double contrastive_loss(const T* img, const T* txt, int64_t b, int64_t e, T log_scale, T* logits);
template <typename T>
void contrastive_loss_backward(const T* img, const T* txt, int64_t b, int64_t e, T log_scale,
                               double dloss, T* dimg, T* dtxt, T* dlog_scale);

}  // namespace clipkit::ref
