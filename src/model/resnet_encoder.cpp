#include "model/resnet_encoder.h"

#include <cstring>

#include "core/error.h"
#include "ops/attention.h"
#include "ops/conv.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/pointwise.h"

namespace clipkit::model {

namespace {

constexpr float kBnEps = 1e-5f;

// A channels-last activation: rows [N*H*W, C].
struct Feature {
  Tensor rows;
  int64_t n, h, w;
  int64_t c() const { return rows.dim(1); }
  Tensor nchw() const { return ops::nhwc_as_nchw(rows, n, h, w); }
};

Feature conv_bn(ops::Backend& be, const Feature& x, const Tensor& weight, const BatchNormParams& bn,
                int64_t stride, int64_t pad, bool relu, ops::Workspace& ws) {
  const int64_t kh = weight.dim(2);
  const int64_t oh = (x.h + 2 * pad - kh) / stride + 1, ow = (x.w + 2 * pad - weight.dim(3)) / stride + 1;
  Feature y{ws.alloc({x.n * oh * ow, weight.dim(0)}), x.n, oh, ow};
  ops::conv2d(be, x.nchw(), weight, nullptr, stride, pad, y.rows, ws);
  ops::batchnorm(be, y.rows, bn.running_mean, bn.running_var, bn.weight, bn.bias, kBnEps, relu, y.rows);
  return y;
}

Feature avgpool(ops::Backend& be, const Feature& x, int64_t k, ops::Workspace& ws) {
  if (k == 1) return x;
  Feature y{ws.alloc({x.n * (x.h / k) * (x.w / k), x.c()}), x.n, x.h / k, x.w / k};
  ops::avgpool_nhwc(be, x.rows, x.n, x.h, x.w, k, y.rows);
  return y;
}

Feature bottleneck(ops::Backend& be, const BottleneckParams& p, const Feature& x, ops::Workspace& ws) {
  Feature out = conv_bn(be, x, p.conv1, p.bn1, 1, 0, true, ws);
  out = conv_bn(be, out, p.conv2, p.bn2, 1, 1, true, ws);
  out = avgpool(be, out, p.stride, ws);
  out = conv_bn(be, out, p.conv3, p.bn3, 1, 0, false, ws);
  Feature identity = x;
  if (p.has_downsample)
    identity = conv_bn(be, avgpool(be, x, p.stride, ws), p.downsample_conv, p.downsample_bn, 1, 0,
                       false, ws);
  ops::add(be, out.rows, identity.rows, out.rows);
  ops::activation(be, ops::Act::kRelu, out.rows, out.rows);
  return out;
}

// Moves `f` down to the workspace position `m`, releasing everything allocated after `m` (the
// intermediates that produced it), and returns the moved feature.
Feature compact(const Feature& f, const ops::Workspace::Mark& m, ops::Workspace& ws) {
  const void* src = f.rows.raw();
  const size_t bytes = f.rows.nbytes();
  ws.rewind(m);
  Feature out{ws.alloc(f.rows.shape()), f.n, f.h, f.w};
  // The destination starts at or below the source, so an overlapping move is safe.
  std::memmove(out.rows.raw(), src, bytes);
  return out;
}

// An NCHW copy of a channels-last feature (for hidden-state outputs).
Tensor to_nchw(const Feature& f) { return f.nchw().contiguous(); }

}  // namespace

ResNetEncoder::ResNetEncoder(io::VisionConfig config, ResNetParams params)
    : config_(std::move(config)), params_(std::move(params)) {}

void ResNetEncoder::prepare(ops::Backend& be) {
  for (LinearParams* l : {&params_.attnpool_q, &params_.attnpool_k, &params_.attnpool_v, &params_.attnpool_c})
    l->prepare(be);
}

VisionOutputs ResNetEncoder::forward(ops::Backend& be, const Tensor& pixels,
                                     const VisionOptions& opts, ops::Workspace& ws) const {
  const int64_t n = check_pixels(pixels, config_);
  VisionOutputs out;

  // Stem. The first convolution reads the NCHW pixels through their strides. Each stage of the
  // network starts from a workspace mark and compacts its output there, so the workspace holds
  // one block's intermediates at a time.
  const int64_t s = config_.image_size;
  ops::Workspace::Mark mark = ws.mark();
  Feature x{Tensor(), n, s, s};
  {
    const Tensor& w1 = params_.stem_conv[0];
    const int64_t oh = (s + 2 - 3) / 2 + 1;
    Feature y{ws.alloc({n * oh * oh, w1.dim(0)}), n, oh, oh};
    ops::conv2d(be, pixels, w1, nullptr, 2, 1, y.rows, ws);
    const BatchNormParams& bn = params_.stem_bn[0];
    ops::batchnorm(be, y.rows, bn.running_mean, bn.running_var, bn.weight, bn.bias, kBnEps, true, y.rows);
    x = y;
  }
  x = conv_bn(be, x, params_.stem_conv[1], params_.stem_bn[1], 1, 1, true, ws);
  x = conv_bn(be, x, params_.stem_conv[2], params_.stem_bn[2], 1, 1, true, ws);
  x = compact(avgpool(be, x, 2, ws), mark, ws);
  if (opts.output_hidden_states) out.hidden_states.push_back(to_nchw(x));

  for (const auto& stage : params_.stages) {
    for (const BottleneckParams& b : stage) {
      // x sits at `mark`; the block's output replaces it there.
      x = compact(bottleneck(be, b, x, ws), mark, ws);
    }
    if (opts.output_hidden_states) out.hidden_states.push_back(to_nchw(x));
  }
  out.last_hidden_state = opts.output_hidden_states ? out.hidden_states.back() : to_nchw(x);

  // Attention pool over the hw positions plus their mean.
  const int64_t c = x.c(), hw = x.h * x.w, t = hw + 1;
  Tensor tokens = ws.alloc({n, t, c});
  const Tensor& pos_t = params_.attnpool_positional_embedding;
  CLIPKIT_CHECK(pos_t.dim(0) == t && pos_t.strides()[1] == 1,
                "image encoder: attention-pool positions ", shape_str(pos_t.shape()), " do not fit ",
                t, " tokens");
  for (int64_t b = 0; b < n; ++b) {
    const float* feat = x.rows.data<float>() + b * hw * c;
    float* dst = tokens.data<float>() + b * t * c;
    // Mean token, accumulated in float as torch.mean does on the CPU.
    for (int64_t ch = 0; ch < c; ++ch) dst[ch] = 0.0f;
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t ch = 0; ch < c; ++ch) dst[ch] += feat[p * c + ch];
    for (int64_t ch = 0; ch < c; ++ch) dst[ch] /= float(hw);
    std::memcpy(dst + c, feat, size_t(hw * c) * sizeof(float));
    for (int64_t i = 0; i < t; ++i) {
      const float* pos = pos_t.data<float>() + i * pos_t.strides()[0];
      for (int64_t ch = 0; ch < c; ++ch) dst[i * c + ch] += pos[ch];
    }
  }
  const Tensor token_rows = tokens.reshape({n * t, c});
  // Only the mean token queries: rows 0 of each item, row stride T*C.
  const Tensor query_in = Tensor::view(tokens.owner(), tokens.raw(), DType::F32, {n, c}, {t * c, 1});
  Tensor q = ws.alloc({n, 1, c}), k = ws.alloc({n, t, c}), v = ws.alloc({n, t, c});
  Tensor q2 = q.reshape({n, c}), k2 = k.reshape({n * t, c}), v2 = v.reshape({n * t, c});
  ops::linear(be, query_in, params_.attnpool_q, q2);
  ops::linear(be, token_rows, params_.attnpool_k, k2);
  ops::linear(be, token_rows, params_.attnpool_v, v2);
  Tensor attn = ws.alloc({n, 1, c});
  ops::AttentionOptions ao;
  ao.heads = config_.heads;
  ops::attention(be, q, k, v, attn, ao);
  out.pooled = Tensor::empty(DType::F32, {n, params_.attnpool_c.weight.dim(0)});
  ops::linear(be, attn.reshape({n, c}), params_.attnpool_c, out.pooled);
  out.embeds = out.pooled;
  return out;
}

}  // namespace clipkit::model
