#include "model/resnet_encoder.h"

#include <cstring>

#include "core/error.h"
#include "ops/attention.h"
#include "ops/conv.h"
#include "ops/linear.h"

namespace clipkit::model {

namespace {

constexpr float kBnEps = 1e-5f;

using ops::FeatureMap;

ops::ConvLayer conv_layer(const Tensor& weight, const BatchNormParams& bn, int64_t stride,
                          int64_t pad, bool residual, ops::Act act) {
  ops::ConvLayer l;
  l.weight = weight;
  l.bn_mean = bn.running_mean;
  l.bn_var = bn.running_var;
  l.bn_gamma = bn.weight;
  l.bn_beta = bn.bias;
  l.bn_eps = kBnEps;
  l.stride = stride;
  l.pad = pad;
  l.residual = residual;
  l.act = act;
  return l;
}

// The tower's activations: every feature map of one forward pass in the backend's layout.
struct Pass {
  ops::Backend& be;
  ops::Workspace& ws;
  ops::ConvLayout layout;

  FeatureMap conv(const ops::ConvLayer& l, const FeatureMap& x) {
    FeatureMap y = ops::alloc_feature_map(ws, layout, x.n, l.out_channels(), l.out_h(x.h), l.out_w(x.w));
    ops::conv2d(be, l, x, y);
    return y;
  }
  FeatureMap avgpool(const FeatureMap& x, int64_t k) {
    if (k == 1) return x;
    FeatureMap y = ops::alloc_feature_map(ws, x.layout, x.n, x.c, x.h / k, x.w / k);
    ops::avgpool(be, x, k, y);
    return y;
  }
  // Moves `f` down to the workspace position `m`, releasing everything allocated after `m` (the
  // intermediates that produced it), and returns the moved feature map.
  FeatureMap compact(const FeatureMap& f, const ops::Workspace::Mark& m) {
    const void* src = f.storage.raw();
    const size_t bytes = f.storage.nbytes();
    ws.rewind(m);
    FeatureMap out = f;
    out.storage = ws.alloc(f.storage.shape());
    // The destination starts at or below the source, so an overlapping move is safe.
    if (out.storage.raw() != src) std::memmove(out.storage.raw(), src, bytes);
    return out;
  }
};

}  // namespace

ResNetEncoder::ResNetEncoder(io::VisionConfig config, ResNetParams params)
    : config_(std::move(config)), params_(std::move(params)), layers_(make_layers()) {}

ResNetEncoder::Layers ResNetEncoder::make_layers() const {
  Layers t;
  for (int i = 0; i < 3; ++i)
    t.stem[size_t(i)] = conv_layer(params_.stem_conv[size_t(i)], params_.stem_bn[size_t(i)],
                                   i == 0 ? 2 : 1, 1, false, ops::Act::kRelu);
  for (size_t s = 0; s < params_.stages.size(); ++s)
    for (const BottleneckParams& p : params_.stages[s]) {
      BlockLayers b;
      b.stride = p.stride;
      b.has_downsample = p.has_downsample;
      b.conv1 = conv_layer(p.conv1, p.bn1, 1, 0, false, ops::Act::kRelu);
      b.conv2 = conv_layer(p.conv2, p.bn2, 1, 1, false, ops::Act::kRelu);
      // relu(bn3(conv3(out)) + identity): the residual and the ReLU fused into conv3.
      b.conv3 = conv_layer(p.conv3, p.bn3, 1, 0, true, ops::Act::kRelu);
      if (p.has_downsample)
        b.downsample = conv_layer(p.downsample_conv, p.downsample_bn, 1, 0, false, ops::Act::kIdentity);
      t.stages[s].push_back(std::move(b));
    }
  return t;
}

void ResNetEncoder::prepare_layers(Layers& t, ops::Backend& be) {
  for (ops::ConvLayer& l : t.stem) l.prepare(be);
  for (auto& stage : t.stages)
    for (BlockLayers& b : stage) {
      for (ops::ConvLayer* l : {&b.conv1, &b.conv2, &b.conv3}) l->prepare(be);
      if (b.has_downsample) b.downsample.prepare(be);
    }
}

void ResNetEncoder::prepare(ops::Backend& be) {
  for (LinearParams* l : {&params_.attnpool_q, &params_.attnpool_k, &params_.attnpool_v, &params_.attnpool_c})
    l->prepare(be);
  prepare_layers(layers_, be);
  prepared_for_ = &be;
}

VisionOutputs ResNetEncoder::forward(ops::Backend& be, const Tensor& pixels,
                                     const VisionOptions& opts, ops::Workspace& ws) const {
  if (prepared_for_ == &be) return run(be, layers_, pixels, opts, ws);
  // Not prepared for this backend: prepare a copy of the layers for this pass.
  Layers local = make_layers();
  prepare_layers(local, be);
  return run(be, local, pixels, opts, ws);
}

VisionOutputs ResNetEncoder::run(ops::Backend& be, const Layers& layers, const Tensor& pixels,
                                 const VisionOptions& opts, ops::Workspace& ws) const {
  const int64_t n = check_pixels(pixels, config_);
  VisionOutputs out;
  Pass pass{be, ws, be.conv_layout()};

  // Stem. The first convolution reads the pixels in place (NCHW). Each stage of the network
  // starts from a workspace mark and compacts its output there, so the workspace holds one
  // block's intermediates at a time.
  const ops::Workspace::Mark mark = ws.mark();
  FeatureMap x;
  {
    const ops::ConvLayer& l = layers.stem[0];
    x = ops::alloc_feature_map(ws, pass.layout, n, l.out_channels(), l.out_h(pixels.dim(2)),
                               l.out_w(pixels.dim(3)));
    ops::conv2d(be, l, pixels, x);
  }
  x = pass.conv(layers.stem[1], x);
  x = pass.conv(layers.stem[2], x);
  x = pass.compact(pass.avgpool(x, 2), mark);
  if (opts.output_hidden_states) out.hidden_states.push_back(ops::to_nchw(be, x));

  for (const auto& stage : layers.stages) {
    for (const BlockLayers& b : stage) {
      // x sits at `mark`; the block's output replaces it there.
      FeatureMap y = pass.conv(b.conv1, x);
      y = pass.conv(b.conv2, y);
      y = pass.avgpool(y, b.stride);
      if (b.has_downsample) {
        FeatureMap identity = pass.conv(b.downsample, pass.avgpool(x, b.stride));
        ops::conv2d(be, b.conv3, y, identity);
        x = pass.compact(identity, mark);
      } else {
        // The block's input is the residual: conv3 accumulates into it in place.
        ops::conv2d(be, b.conv3, y, x);
        x = pass.compact(x, mark);
      }
    }
    if (opts.output_hidden_states) out.hidden_states.push_back(ops::to_nchw(be, x));
  }
  out.last_hidden_state = opts.output_hidden_states ? out.hidden_states.back() : ops::to_nchw(be, x);

  // The attention pool reads channels-last rows [N*H*W, C].
  FeatureMap rows = x;
  if (x.layout != ops::ConvLayout::kNhwc) {
    rows = ops::alloc_feature_map(ws, ops::ConvLayout::kNhwc, x.n, x.c, x.h, x.w);
    ops::reorder(be, x, rows);
  }

  // Attention pool over the hw positions plus their mean.
  const int64_t c = x.c, hw = x.h * x.w, t = hw + 1;
  Tensor tokens = ws.alloc({n, t, c});
  const Tensor& pos_t = params_.attnpool_positional_embedding;
  CLIPKIT_CHECK(pos_t.dim(0) == t && pos_t.strides()[1] == 1,
                "image encoder: attention-pool positions ", shape_str(pos_t.shape()), " do not fit ",
                t, " tokens");
  for (int64_t b = 0; b < n; ++b) {
    const float* feat = rows.storage.data<float>() + b * hw * c;
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
