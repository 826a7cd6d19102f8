// RefBackend: the ops::Backend made of the reference kernels (backends/ref/kernels.h). Slow,
// single-threaded and simple on purpose; it is the oracle other backends are tested against and
// the backend to reach for when a result looks wrong.
#pragma once

#include "ops/backend.h"

namespace clipkit::ref {

class RefBackend : public ops::Backend {
 public:
  const char* name() const override { return "ref"; }

  void gemm(const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc, float alpha, float beta,
            const float* bias) override;
  void col_sum(const float* x, int64_t rows, int64_t cols, int64_t ldx, float* out,
               bool accumulate) override;
  void linear(const ops::LinearArgs& args) override;  // ref_linear.cpp
  void layernorm(const float* x, int64_t rows, int64_t cols, int64_t ldx, const float* gamma,
                 const float* beta, float eps, float* y, int64_t ldy, float* mean_out,
                 float* rstd_out) override;
  void layernorm_backward(const float* x, const float* dy, int64_t rows, int64_t cols,
                          const float* gamma, const float* mean, const float* rstd, float* dx,
                          float* dgamma, float* dbeta) override;
  void batchnorm(const float* x, int64_t rows, int64_t channels, int64_t ldx, const float* mean,
                 const float* var, const float* gamma, const float* beta, float eps, bool relu,
                 float* y, int64_t ldy) override;
  void l2_normalize(const float* x, int64_t rows, int64_t cols, float* y) override;
  void activation(ops::Act act, const float* x, float* y, int64_t n) override;
  void activation_backward(ops::Act act, const float* x, const float* dy, float* dx,
                           int64_t n) override;
  void add(const float* a, const float* b, float* y, int64_t n) override;
  void softmax(const float* x, float* y, int64_t rows, int64_t cols) override;
  void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows,
                        int64_t cols) override;
  void attention(const ops::AttentionArgs& args) override;
  void attention_backward(const ops::AttentionArgs& args, const ops::AttentionGrads& grads) override;
  void im2col(const ops::Im2ColArgs& args) override;
  void avgpool_nhwc(const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t k,
                    float* y) override;
  // ref_conv.cpp: activations channels-last; any layout is read and written.
  ops::ConvLayout conv_layout() const override { return ops::ConvLayout::kNhwc; }
  std::shared_ptr<const ops::PreparedConv> prepare_conv(const ops::ConvSpec& spec) override;
  void conv(const ops::PreparedConv& conv, const ops::ConstConvTensor& x,
            const ops::ConvTensor& y) override;
  void conv_reorder(const ops::ConstConvTensor& x, const ops::ConvTensor& y) override;
  double contrastive_loss(const float* img, const float* txt, int64_t b, int64_t e,
                          float log_scale, float* logits) override;
  void contrastive_loss_backward(const float* img, const float* txt, int64_t b, int64_t e,
                                 float log_scale, double dloss, float* dimg, float* dtxt,
                                 float* dlog_scale) override;
};

// The process-wide instance (stateless, so one is enough).
RefBackend& ref_backend();

}  // namespace clipkit::ref
