// The kernel interface every compute backend implements. The op functions in src/ops/*.h validate
// their tensors and call these kernels; the model calls only the op functions. Kernels work on raw
// float32 pointers with explicit sizes and strides, so a backend never needs to know about Tensor,
// and the same kernel serves contiguous activations, strided weight views (a checkpoint's
// transposed projection, a row block of a fused q/k/v matrix) and column slices of fused buffers.
//
// Two backends exist: backends/ref (plain scalar loops, float64 accumulation: the oracle) and
// backends/cpu (the fast path: a tuned GEMM library, threads, vectorisable loops). Every kernel of
// the cpu backend is tested against the ref backend on random and odd shapes.
//
// Conventions shared by all kernels:
//  - Matrices are float32, element (r, c) at data[r * row_stride + c * col_stride].
//  - Outputs never alias inputs unless a kernel says so.
//  - Kernels are deterministic for a given backend and thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/dtype.h"

namespace clipkit::ops {

// Pointwise nonlinearities used by CLIP towers.
//   kIdentity:  y = x
//   kRelu:      y = max(x, 0)
//   kQuickGelu: y = x * sigmoid(1.702 x)              (OpenAI CLIP's "QuickGELU")
//   kGelu:      y = x/2 * (1 + erf(x / sqrt(2)))      (exact GELU, OpenCLIP/LAION and transformers "gelu")
enum class Act : uint8_t { kIdentity, kRelu, kQuickGelu, kGelu };
const char* act_name(Act a);

// A read-only matrix view (float32 in backends; float64 in the ref backend's double kernels).
template <typename T>
struct BasicMat {
  const T* data = nullptr;
  int64_t rows = 0, cols = 0;
  int64_t row_stride = 0, col_stride = 1;

  // The transposed view (no copy).
  BasicMat t() const { return {data, cols, rows, col_stride, row_stride}; }
  T at(int64_t r, int64_t c) const { return data[r * row_stride + c * col_stride]; }
  // Row-major with contiguous rows.
  static BasicMat rows_of(const T* p, int64_t rows, int64_t cols, int64_t ld) {
    return {p, rows, cols, ld, 1};
  }
};
using Mat = BasicMat<float>;

// Multi-head scaled dot-product attention over a batch. Head h of token t in batch item n uses
// the columns [h*head_dim, (h+1)*head_dim) of row t of that item; rows are addressed through
// strides so q, k and v can be column blocks of one fused [N*T, 3W] projection output.
//
//   s[n,h,i,j] = scale * sum_d q[n,i,h,d] * k[n,j,h,d]       (for allowed j, else -inf)
//   p[n,h,i,:] = softmax_j(s[n,h,i,:])                         (float32, max-subtracted)
//   o[n,i,h,d] = sum_j p[n,h,i,j] * v[n,j,h,d]
//
// Key j is allowed for query i when (!causal || j <= i) and (key_mask == null ||
// key_mask[n*kv_len + j] != 0). A query with no allowed key gets o = 0 (and p = 0).
template <typename T>
struct BasicAttentionArgs {
  int64_t batch = 0, heads = 0, head_dim = 0, q_len = 0, kv_len = 0;
  const T* q = nullptr;
  int64_t q_row_stride = 0, q_batch_stride = 0;
  const T* k = nullptr;
  int64_t k_row_stride = 0, k_batch_stride = 0;
  const T* v = nullptr;
  int64_t v_row_stride = 0, v_batch_stride = 0;
  T* out = nullptr;
  int64_t out_row_stride = 0, out_batch_stride = 0;
  T scale = 1;
  bool causal = false;
  const int32_t* key_mask = nullptr;  // [batch, kv_len], contiguous
  // Optional: the softmax probabilities [batch, heads, q_len, kv_len] (contiguous), kept for the
  // backward pass. Null in inference.
  T* probs = nullptr;
};
using AttentionArgs = BasicAttentionArgs<float>;

// Gradients of attention given the saved probabilities (args.probs must be set) and dO with the
// same addressing as `out`. dq/dk/dv use the addressing of q/k/v (row and batch strides of the
// forward args) and are overwritten.
//   dP[i,j] = sum_d dO[i,d] v[j,d]
//   dS[i,j] = p[i,j] * (dP[i,j] - sum_j' p[i,j'] dP[i,j'])
//   dq[i,:] = scale * sum_j dS[i,j] k[j,:],  dk[j,:] = scale * sum_i dS[i,j] q[i,:],
//   dv[j,:] = sum_i p[i,j] dO[i,:]
template <typename T>
struct BasicAttentionGrads {
  const T* dout = nullptr;
  T* dq = nullptr;
  T* dk = nullptr;
  T* dv = nullptr;
};
using AttentionGrads = BasicAttentionGrads<float>;

// im2col over a logical [N, C, H, W] input addressed through strides (so both NCHW and NHWC
// memory work). Writes rows[(n*OH + oy)*OW + ox, (c*KH + ky)*KW + kx] = x[n, c, iy, ix] with
// iy = oy*stride - pad + ky, ix = ox*stride - pad + kx, 0 outside the image. The column order
// matches a PyTorch conv weight [O, C, KH, KW] read as an [O, C*KH*KW] matrix, so
// out = rows · weight^T is the convolution in NHWC order.
template <typename T>
struct BasicIm2ColArgs {
  const T* x = nullptr;
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t stride_n = 0, stride_c = 0, stride_h = 0, stride_w = 0;
  int64_t kh = 1, kw = 1, stride = 1, pad = 0;
  T* out = nullptr;  // [N*OH*OW, C*KH*KW] contiguous
  int64_t out_h() const { return (h + 2 * pad - kh) / stride + 1; }
  int64_t out_w() const { return (w + 2 * pad - kw) / stride + 1; }
};
using Im2ColArgs = BasicIm2ColArgs<float>;

// ---- linear layers ------------------------------------------------------------------------
// A linear layer's weight as the kernels read it: W [N, K] (out, in), element (n, k) at
// data[n * row_stride + k * col_stride], in the precision it is stored in:
//  - F32, F16, BF16: computed in float32 (16-bit values widen exactly, so a 16-bit weight gives
//    the same result as its float32 copy; it only takes half the memory).
//  - I8: q[n, k] in [-127, 127] with one float32 scale per output row, w = q * scale[n]. Computed
//    with 8-bit integer products as specified at Backend::linear.
struct WeightRef {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;  // N, K
  int64_t row_stride = 0, col_stride = 1;
  const float* scale = nullptr;  // [N], I8 only
};

// A backend's own arrangement of a weight (packed panels, row sums, a converted copy), made once
// when a model is built and passed back with every call. Opaque outside the backend.
class PreparedWeight {
 public:
  virtual ~PreparedWeight() = default;
  // Memory it holds beyond the original weight, for reports.
  virtual size_t bytes() const = 0;
};

// y = act(x W^T + bias), or with `accumulate` y += act(x W^T + bias) (a residual branch).
// x [M, K] row stride ldx, y [M, N] row stride ldy; bias [N] or null; `prepared` is null or what
// this backend's prepare_linear returned for `w`.
//
// Int8 weights (w.dtype == I8) compute with per-row ("per-token") dynamic activation quantisation,
// the same in every backend so that results can be compared exactly:
//   lo = min(0, min_k x[m,k]),  hi = max(0, max_k x[m,k])
//   hi == lo:  every q[m,k] = 0, s_x = 1, z = 0
//   else:      inv = 127 / (hi - lo),  s_x = (hi - lo) / 127,  z = rint(-lo * inv)
//              q[m,k] = clamp(rint(x[m,k] * inv) + z, 0, 127)          (7-bit unsigned)
//   acc[m,n] = sum_k q[m,k] * qw[n,k]            (exact in int32)
//   y = float(acc - z * sum_k qw[n,k]) * (s_x * scale[n]) + bias[n]   (float32, in this order)
// rint rounds half to even. Activations use 7 bits so that two products of a pair never exceed
// the int16 range of AVX2's u8 x s8 multiply-add (2 * 127 * 127 < 32768).
struct LinearArgs {
  const float* x = nullptr;
  int64_t m = 0, ldx = 0;
  WeightRef w;
  const PreparedWeight* prepared = nullptr;
  const float* bias = nullptr;
  Act act = Act::kIdentity;
  bool accumulate = false;
  float* y = nullptr;
  int64_t ldy = 0;
};

// ---- prepared convolutions (ModifiedResNet) -------------------------------------------------
// Memory layouts of a float32 activation [N, C, H, W]. Element (n, c, h, w) is at
//   kNchw:       ((n*C + c)*H + h)*W + w
//   kNhwc:       ((n*H + h)*W + w)*C + c                      (channels-last rows [N*H*W, C])
//   kBlocked8:   (((n*CB + c/8)*H + h)*W + w)*8 + c%8,  CB = ceil(C/8)     (oneDNN's nChw8c)
//   kBlocked16:  the same with blocks of 16 channels                         (nChw16c)
// Blocked layouts pad the channels to whole blocks; the padding channels hold zeros, and every
// kernel that writes a blocked activation keeps them zero.
enum class ConvLayout : uint8_t { kNchw, kNhwc, kBlocked8, kBlocked16 };
const char* conv_layout_name(ConvLayout layout);
// Channels per block: 8 or 16 for the blocked layouts, 1 for the plain ones.
int64_t conv_layout_block(ConvLayout layout);
// Floats an activation [n, c, h, w] occupies in `layout` (channel padding included).
int64_t conv_layout_floats(ConvLayout layout, int64_t n, int64_t c, int64_t h, int64_t w);

// An activation in one of those layouts (densely packed as above).
template <typename T>
struct BasicConvTensor {
  T* data = nullptr;
  int64_t n = 0, c = 0, h = 0, w = 0;
  ConvLayout layout = ConvLayout::kNchw;
};
using ConvTensor = BasicConvTensor<float>;
using ConstConvTensor = BasicConvTensor<const float>;

// A convolution layer as a model hands it to prepare_conv: a cross-correlation as
// torch.nn.Conv2d (zero padding `pad` on every side, the same stride in both directions), an
// optional bias, an optional inference-mode BatchNorm folded into it, and a fused epilogue:
//   z[n,o,oy,ox] = sum_{c,ky,kx} w[o,c,ky,kx] * x[n, c, oy*stride - pad + ky, ox*stride - pad + kx]
//                  + bias[o]                           (x = 0 outside the image; bias 0 when null)
//   BatchNorm (when bn_mean is set), folded once when the layer is prepared:
//     s[o] = gamma[o] / sqrt(var[o] + eps)
//     w'[o,c,ky,kx] = w[o,c,ky,kx] * s[o],   b'[o] = beta[o] + (bias[o] - mean[o]) * s[o]
//     so that z' = (z - mean) * s + beta is computed as the convolution with w' plus b'.
//   y = act(z' + r),  r = the value y holds on entry when `residual`, else 0.
// Only kIdentity and kRelu are accepted as `act`. The pointed-to values must stay valid while the
// prepared layer lives: a backend may read them when the layer first runs (the cpu backend folds
// and reorders on first use, so that loading a model reads none of its convolution weights).
struct ConvSpec {
  const float* weight = nullptr;  // [O, C, KH, KW] contiguous
  int64_t out_channels = 0, in_channels = 0, kh = 1, kw = 1;
  int64_t stride = 1, pad = 0;
  const float* bias = nullptr;  // [O] or null
  // BatchNorm statistics and affine parameters, [O] each: all four or none.
  const float* bn_mean = nullptr;
  const float* bn_var = nullptr;
  const float* bn_gamma = nullptr;
  const float* bn_beta = nullptr;
  float bn_eps = 1e-5f;
  bool residual = false;
  Act act = Act::kIdentity;

  int64_t out_h(int64_t h) const { return (h + 2 * pad - kh) / stride + 1; }
  int64_t out_w(int64_t w) const { return (w + 2 * pad - kw) / stride + 1; }
};

// A backend's own form of a convolution layer (folded, reordered weights; its compiled kernels),
// made once per model and backend by prepare_conv and passed back with every call. Opaque outside
// the backend, and only valid with the backend that made it.
class PreparedConv {
 public:
  virtual ~PreparedConv() = default;
  // The layer's shape and epilogue (the data pointers are not kept: they are null here).
  virtual const ConvSpec& spec() const = 0;
  // Memory it holds, for reports.
  virtual size_t bytes() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // ---- matrix products ----------------------------------------------------------------------
  // c[m, n] = alpha * sum_k a(m, k) b(k, n) + beta * c[m, n] + bias[n]   (bias may be null)
  // a is [M, K], b is [K, N]; each needs a unit stride in one of its dimensions. c is row-major
  // with leading dimension ldc >= N. With beta == 0, c is not read (it may hold NaN).
  virtual void gemm(const Mat& a, const Mat& b, float* c, int64_t ldc, float alpha, float beta,
                    const float* bias) = 0;
  // out[c] (+)= sum_r x[r * ldx + c] over rows: the bias gradient of a linear layer.
  virtual void col_sum(const float* x, int64_t rows, int64_t cols, int64_t ldx, float* out,
                       bool accumulate) = 0;

  // The linear layer above. Every backend computes all weight types.
  virtual void linear(const LinearArgs& args) = 0;
  // A prepared form of `w` for this backend, or null when it reads weights as they are. The
  // weight's memory must outlive the result.
  virtual std::shared_ptr<const PreparedWeight> prepare_linear(const WeightRef& w) {
    (void)w;
    return nullptr;
  }

  // ---- normalisation ------------------------------------------------------------------------
  // Per row r of x [rows, cols] (row stride ldx; y row stride ldy):
  //   mean = sum_c x / cols;  var = sum_c (x - mean)^2 / cols  (biased);  rstd = 1/sqrt(var + eps)
  //   y = (x - mean) * rstd * gamma + beta
  // mean_out/rstd_out ([rows], may be null) are saved for the backward pass. y may equal x.
  virtual void layernorm(const float* x, int64_t rows, int64_t cols, int64_t ldx,
                         const float* gamma, const float* beta, float eps, float* y, int64_t ldy,
                         float* mean_out, float* rstd_out) = 0;
  // With xhat = (x - mean) * rstd and g = dy * gamma:
  //   dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat))
  //   dgamma += sum_r dy * xhat;   dbeta += sum_r dy
  // x, dy, dx are contiguous [rows, cols]; dgamma/dbeta may be null.
  virtual void layernorm_backward(const float* x, const float* dy, int64_t rows, int64_t cols,
                                  const float* gamma, const float* mean, const float* rstd,
                                  float* dx, float* dgamma, float* dbeta) = 0;
  // BatchNorm in inference mode on channels-last data x [rows, C] (row stride ldx; NHWC):
  //   y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta, then ReLU when `relu`.
  // y may equal x.
  virtual void batchnorm(const float* x, int64_t rows, int64_t channels, int64_t ldx,
                         const float* mean, const float* var, const float* gamma,
                         const float* beta, float eps, bool relu, float* y, int64_t ldy) = 0;
  // Row-wise L2 normalisation: y = x / ||x||_2. x and y contiguous [rows, cols]; y may equal x.
  virtual void l2_normalize(const float* x, int64_t rows, int64_t cols, float* y) = 0;

  // ---- pointwise ----------------------------------------------------------------------------
  // y = act(x) over n elements; y may equal x.
  virtual void activation(Act act, const float* x, float* y, int64_t n) = 0;
  // dx = dy * act'(x):
  //   relu'      = [x > 0]
  //   quickgelu' = s + 1.702 x s (1 - s),  s = sigmoid(1.702 x)
  //   gelu'      = Phi(x) + x phi(x),      Phi = (1 + erf(x/sqrt2))/2, phi = exp(-x^2/2)/sqrt(2 pi)
  virtual void activation_backward(Act act, const float* x, const float* dy, float* dx,
                                   int64_t n) = 0;
  // y = a + b over n elements; y may equal a or b.
  virtual void add(const float* a, const float* b, float* y, int64_t n) = 0;

  // ---- softmax and attention ----------------------------------------------------------------
  // Row-wise softmax over contiguous [rows, cols]: y = exp(x - max) / sum exp(x - max).
  virtual void softmax(const float* x, float* y, int64_t rows, int64_t cols) = 0;
  // dx = y * (dy - sum_c(dy * y)), per row.
  virtual void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows,
                                int64_t cols) = 0;
  virtual void attention(const AttentionArgs& args) = 0;
  virtual void attention_backward(const AttentionArgs& args, const AttentionGrads& grads) = 0;

  // ---- convolution and pooling (ModifiedResNet, patch embedding) ----------------------------
  virtual void im2col(const Im2ColArgs& args) = 0;
  // Average pooling with kernel = stride = k (floor mode, no padding) on NHWC x [N, H, W, C]:
  // y[n, oy, ox, c] = mean over the k x k window. y is [N, H/k, W/k, C].
  virtual void avgpool_nhwc(const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t k,
                            float* y) = 0;

  // ---- prepared convolutions (ModifiedResNet) -----------------------------------------------
  // The layout this backend keeps activations in between prepared convolutions.
  virtual ConvLayout conv_layout() const = 0;
  // The prepared form of the layer `spec` (see ConvSpec). Throws Error on an invalid spec.
  virtual std::shared_ptr<const PreparedConv> prepare_conv(const ConvSpec& spec) = 0;
  // y = the layer applied to x. x is [N, C, H, W] and y [N, O, OH, OW], each in any ConvLayout
  // (conv_layout() is the fast one; plain NCHW input is the other common case, the pixels). With
  // a residual, y holds it on entry. x and y do not overlap. `conv` must come from this backend's
  // prepare_conv.
  virtual void conv(const PreparedConv& conv, const ConstConvTensor& x, const ConvTensor& y) = 0;
  // y = x, converted between layouts (same N, C, H, W; blocked padding written as zeros).
  virtual void conv_reorder(const ConstConvTensor& x, const ConvTensor& y) = 0;

  // ---- contrastive loss ---------------------------------------------------------------------
  // CLIP's symmetric InfoNCE on B matched pairs. img [B, E] and txt [B, E] are the unnormalised
  // features, log_scale the learnable log temperature:
  //   u = img/|img|, w = txt/|txt|, L = exp(log_scale) * u w^T       (logits_per_image)
  //   loss = (CE(L, arange B) + CE(L^T, arange B)) / 2,  CE = mean cross entropy
  // Returns the loss; writes logits [B, B] when non-null. Softmaxes in float64 in ref.
  virtual double contrastive_loss(const float* img, const float* txt, int64_t b, int64_t e,
                                  float log_scale, float* logits) = 0;
  // Gradients of the loss above (scaled by dloss):
  //   dL = dloss * ((softmax_rows(L) - I) + (softmax_cols(L) - I)) / (2B)
  //   du = exp(s) dL w,  dw = exp(s) dL^T u,  ds = sum(dL * L)
  //   dimg = (du - u (u . du)) / |img|  (likewise dtxt)
  virtual void contrastive_loss_backward(const float* img, const float* txt, int64_t b, int64_t e,
                                         float log_scale, double dloss, float* dimg, float* dtxt,
                                         float* dlog_scale) = 0;
};

}  // namespace clipkit::ops
