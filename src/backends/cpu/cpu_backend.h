// CpuBackend: the fast CPU path. GEMMs go to oneDNN or OpenBLAS (backends/cpu/gemm.h); the
// memory-bound kernels (layernorm, activations, softmax, attention, im2col, pooling) are written as
// plain loops the compiler vectorises (contiguous inner loops, independent accumulators) and are
// split across ThreadPool::global(). Kernels not overridden here (the backward passes other than
// the GEMMs, the contrastive loss) are the reference ones inherited from RefBackend.
#pragma once

#include "backends/cpu/gemm.h"
#include "backends/ref/ref_backend.h"

namespace clipkit::cpu {

class CpuBackend : public ref::RefBackend {
 public:
  explicit CpuBackend(GemmLibrary lib = GemmLibrary::kOneDnn) : lib_(lib) {}
  const char* name() const override { return "cpu"; }
  GemmLibrary gemm_library() const { return lib_; }

  void gemm(const ops::Mat& a, const ops::Mat& b, float* c, int64_t ldc, float alpha, float beta,
            const float* bias) override;
  void col_sum(const float* x, int64_t rows, int64_t cols, int64_t ldx, float* out,
               bool accumulate) override;
  // linear.cpp: float32 weights through the GEMM library with the epilogue fused per block,
  // 16-bit weights widened a panel at a time, int8 weights through an int8 GEMM.
  void linear(const ops::LinearArgs& args) override;
  std::shared_ptr<const ops::PreparedWeight> prepare_linear(const ops::WeightRef& w) override;
  void layernorm(const float* x, int64_t rows, int64_t cols, int64_t ldx, const float* gamma,
                 const float* beta, float eps, float* y, int64_t ldy, float* mean_out,
                 float* rstd_out) override;
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
  void im2col(const ops::Im2ColArgs& args) override;
  void avgpool_nhwc(const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t k,
                    float* y) override;
  // conv_onednn.cpp: oneDNN convolution primitives (folded BatchNorm, fused residual and ReLU),
  // activations in the layout oneDNN prefers on this CPU.
  ops::ConvLayout conv_layout() const override;
  std::shared_ptr<const ops::PreparedConv> prepare_conv(const ops::ConvSpec& spec) override;
  void conv(const ops::PreparedConv& conv, const ops::ConstConvTensor& x,
            const ops::ConvTensor& y) override;
  void conv_reorder(const ops::ConstConvTensor& x, const ops::ConvTensor& y) override;

 private:
  GemmLibrary lib_;
};

// Process-wide instances, one per GEMM library.
CpuBackend& cpu_backend(GemmLibrary lib = GemmLibrary::kOneDnn);

}  // namespace clipkit::cpu
