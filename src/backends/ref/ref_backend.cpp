#include "backends/ref/ref_backend.h"

#include "backends/ref/kernels.h"

namespace clipkit::ref {

void RefBackend::gemm(const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc, float alpha,
                      float beta, const float* bias) {
  ref::gemm<float>(a, b, c, ldc, alpha, beta, bias);
}
void RefBackend::col_sum(const float* x, int64_t rows, int64_t cols, int64_t ldx, float* out,
                         bool accumulate) {
  ref::col_sum<float>(x, rows, cols, ldx, out, accumulate);
}
void RefBackend::layernorm(const float* x, int64_t rows, int64_t cols, int64_t ldx,
                           const float* gamma, const float* beta, float eps, float* y, int64_t ldy,
                           float* mean_out, float* rstd_out) {
  ref::layernorm<float>(x, rows, cols, ldx, gamma, beta, eps, y, ldy, mean_out, rstd_out);
}
void RefBackend::layernorm_backward(const float* x, const float* dy, int64_t rows, int64_t cols,
                                    const float* gamma, const float* mean, const float* rstd,
                                    float* dx, float* dgamma, float* dbeta) {
  ref::layernorm_backward<float>(x, dy, rows, cols, gamma, mean, rstd, dx, dgamma, dbeta);
}
void RefBackend::batchnorm(const float* x, int64_t rows, int64_t channels, int64_t ldx,
                           const float* mean, const float* var, const float* gamma,
                           const float* beta, float eps, bool relu, float* y, int64_t ldy) {
  ref::batchnorm<float>(x, rows, channels, ldx, mean, var, gamma, beta, eps, relu, y, ldy);
}
void RefBackend::l2_normalize(const float* x, int64_t rows, int64_t cols, float* y) {
  ref::l2_normalize<float>(x, rows, cols, y);
}
void RefBackend::activation(ops::Act act, const float* x, float* y, int64_t n) {
  ref::activation<float>(act, x, y, n);
}
void RefBackend::activation_backward(ops::Act act, const float* x, const float* dy, float* dx,
                                     int64_t n) {
  ref::activation_backward<float>(act, x, dy, dx, n);
}
void RefBackend::add(const float* a, const float* b, float* y, int64_t n) {
  ref::add<float>(a, b, y, n);
}
void RefBackend::softmax(const float* x, float* y, int64_t rows, int64_t cols) {
  ref::softmax<float>(x, y, rows, cols);
}
void RefBackend::softmax_backward(const float* y, const float* dy, float* dx, int64_t rows,
                                  int64_t cols) {
  ref::softmax_backward<float>(y, dy, dx, rows, cols);
}
void RefBackend::attention(const ops::AttentionArgs& args) { ref::attention<float>(args); }
void RefBackend::attention_backward(const ops::AttentionArgs& args,
                                    const ops::AttentionGrads& grads) {
  ref::attention_backward<float>(args, grads);
}
void RefBackend::im2col(const ops::Im2ColArgs& args) { ref::im2col<float>(args); }
void RefBackend::avgpool_nhwc(const float* x, int64_t n, int64_t h, int64_t w, int64_t c,
                              int64_t k, float* y) {
  ref::avgpool_nhwc<float>(x, n, h, w, c, k, y);
}
double RefBackend::contrastive_loss(const float* img, const float* txt, int64_t b, int64_t e,
                                    float log_scale, float* logits) {
  return ref::contrastive_loss<float>(img, txt, b, e, log_scale, logits);
}
void RefBackend::contrastive_loss_backward(const float* img, const float* txt, int64_t b,
                                           int64_t e, float log_scale, double dloss, float* dimg,
                                           float* dtxt, float* dlog_scale) {
  ref::contrastive_loss_backward<float>(img, txt, b, e, log_scale, dloss, dimg, dtxt, dlog_scale);
}

RefBackend& ref_backend() {
  static RefBackend instance;
  return instance;
}

}  // namespace clipkit::ref
