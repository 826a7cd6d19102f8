#include "model/params.h"

#include <cstring>

#include "core/error.h"

namespace clipkit::model {

namespace {
std::string num(int64_t v) { return std::to_string(v); }

// True when a, b, c are [W, W] (or [W]) float32 views that sit back to back in memory with
// contiguous rows, so together they are one [3W, W] (or [3W]) tensor.
bool adjacent(const Tensor& a, const Tensor& b, const Tensor& c) {
  if (!a.is_contiguous() || !b.is_contiguous() || !c.is_contiguous()) return false;
  const char* pa = static_cast<const char*>(a.raw());
  const char* pb = static_cast<const char*>(b.raw());
  const char* pc = static_cast<const char*>(c.raw());
  return pb == pa + a.nbytes() && pc == pb + b.nbytes();
}

// Convolution weights are read as [O, C*KH*KW] matrices, so they must be contiguous.
Tensor contiguous_conv(Tensor t) { return t.is_contiguous() ? t : t.contiguous().set_name(t.name()); }

Tensor fused_view(const Tensor& first, int64_t rows_total, const Shape& tail) {
  Shape s{rows_total};
  s.insert(s.end(), tail.begin(), tail.end());
  Tensor t = Tensor::view(first.owner(), first.raw(), first.dtype(), s);
  return t.set_name(first.name() + " (fused q/k/v)");
}
}  // namespace

Tensor ParamResolver::get(const std::string& name, const Shape& shape) {
  auto it = params_.find(name);
  CLIPKIT_CHECK(it != params_.end(), label_, ": missing parameter '", name, "' (expected shape ",
                shape_str(shape), ")");
  const Tensor& t = it->second;
  CLIPKIT_CHECK(t.shape() == shape, label_, ": parameter '", name, "' has shape ",
                shape_str(t.shape()), ", expected ", shape_str(shape));
  CLIPKIT_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F16 || t.dtype() == DType::BF16,
                label_, ": parameter '", name, "' has dtype ", dtype_name(t.dtype()),
                ", expected F32, F16 or BF16");
  Tensor out = t.dtype() == DType::F32 ? t : t.to(DType::F32);
  out.set_name(name);
  return out;
}

Tensor ParamResolver::get_stored(const std::string& name, const Shape& shape,
                                 std::initializer_list<DType> allowed) {
  auto it = params_.find(name);
  CLIPKIT_CHECK(it != params_.end(), label_, ": missing parameter '", name, "' (expected shape ",
                shape_str(shape), ")");
  Tensor t = it->second;
  CLIPKIT_CHECK(t.shape() == shape, label_, ": parameter '", name, "' has shape ",
                shape_str(t.shape()), ", expected ", shape_str(shape));
  bool ok = false;
  std::string names;
  for (DType d : allowed) {
    ok = ok || t.dtype() == d;
    names += (names.empty() ? "" : ", ") + std::string(dtype_name(d));
  }
  CLIPKIT_CHECK(ok, label_, ": parameter '", name, "' has dtype ", dtype_name(t.dtype()),
                ", expected one of ", names);
  t.set_name(name);
  return t;
}

LayerNormParams ParamResolver::layernorm(const std::string& p, int64_t w) {
  return {get(p + ".weight", {w}), get(p + ".bias", {w})};
}

LinearParams ParamResolver::linear(const std::string& p, int64_t out, int64_t in, bool bias) {
  LinearParams l;
  l.weight = get_stored(p + ".weight", {out, in}, {DType::F32, DType::F16, DType::BF16, DType::I8});
  // Int8 weights (written by `clipkit quantize`) carry one float scale per output row.
  if (l.weight.dtype() == DType::I8) l.scale = get(p + ".weight_scale", {out});
  if (bias) l.bias = get(p + ".bias", {out});
  return l;
}

BatchNormParams ParamResolver::batchnorm(const std::string& p, int64_t c) {
  return {get(p + ".weight", {c}), get(p + ".bias", {c}), get(p + ".running_mean", {c}),
          get(p + ".running_var", {c})};
}

BlockParams ParamResolver::finish_block(BlockParams& b, const std::string& p, int64_t w, int64_t m) {
  const std::string a = p + "attn.";
  b.out_proj = linear(a + "out_proj", w, w);
  b.fc1 = linear(p + "mlp.fc1", m, w);
  b.fc2 = linear(p + "mlp.fc2", w, m);
  return b;
}

BlockParams ParamResolver::block(const std::string& p, int64_t w, int64_t m) {
  BlockParams b;
  b.ln_1 = layernorm(p + "ln_1", w);
  b.ln_2 = layernorm(p + "ln_2", w);
  const std::string a = p + "attn.";
  b.q = linear(a + "q_proj", w, w);
  b.k = linear(a + "k_proj", w, w);
  b.v = linear(a + "v_proj", w, w);
  const DType dt = b.q.weight.dtype();
  CLIPKIT_CHECK(b.k.weight.dtype() == dt && b.v.weight.dtype() == dt, label_, ": ", a,
                "{q,k,v}_proj.weight have different dtypes");
  const bool int8 = dt == DType::I8;
  // One [3W, ...] tensor from three: a view when they sit back to back in memory (OpenAI's
  // in_proj), else one copy of 16-bit or int8 weights in their stored precision. Separate float32
  // weights stay separate (three GEMMs reading the mapped file rather than a copy).
  const bool copy_ok = dt != DType::F32;
  auto fuse = [&](const Tensor& x, const Tensor& y, const Tensor& z, const Shape& tail,
                  const std::string& name) {
    if (adjacent(x, y, z)) return fused_view(x, 3 * w, tail);
    if (!copy_ok) return Tensor();
    Shape shape{3 * w};
    shape.insert(shape.end(), tail.begin(), tail.end());
    Tensor out = Tensor::empty(x.dtype(), shape);
    char* dst = static_cast<char*>(out.raw());
    for (const Tensor* t : {&x, &y, &z}) {
      const Tensor c = t->contiguous();
      std::memcpy(dst, c.raw(), c.nbytes());
      dst += c.nbytes();
    }
    return out.set_name(name);
  };
  b.qkv.weight = fuse(b.q.weight, b.k.weight, b.v.weight, {w}, a + "{q,k,v}_proj.weight");
  if (!b.qkv.weight.defined()) return finish_block(b, p, w, m);
  b.qkv.bias = fuse(b.q.bias, b.k.bias, b.v.bias, {}, a + "{q,k,v}_proj.bias");
  if (!b.qkv.bias.defined()) {  // biases apart while the weights are fused: copy the small ones
    b.qkv.bias = Tensor::empty(DType::F32, {3 * w});
    for (int i = 0; i < 3; ++i)
      std::memcpy(b.qkv.bias.data<float>() + i * w, (i == 0 ? b.q : i == 1 ? b.k : b.v).bias.contiguous().raw(),
                  size_t(w) * sizeof(float));
  }
  if (int8) b.qkv.scale = fuse(b.q.scale, b.k.scale, b.v.scale, {}, a + "{q,k,v}_proj.weight_scale");
  if (int8 && !b.qkv.scale.defined()) {
    b.qkv.scale = Tensor::empty(DType::F32, {3 * w});
    for (int i = 0; i < 3; ++i)
      std::memcpy(b.qkv.scale.data<float>() + i * w, (i == 0 ? b.q : i == 1 ? b.k : b.v).scale.contiguous().raw(),
                  size_t(w) * sizeof(float));
  }
  LinearParams* dst[3] = {&b.q, &b.k, &b.v};
  for (int i = 0; i < 3; ++i) {
    dst[i]->weight = b.qkv.weight.slice(0, i * w, (i + 1) * w).set_name(dst[i]->weight.name());
    dst[i]->bias = b.qkv.bias.slice(0, i * w, (i + 1) * w).set_name(dst[i]->bias.name());
    if (int8) dst[i]->scale = b.qkv.scale.slice(0, i * w, (i + 1) * w);
  }
  return finish_block(b, p, w, m);
}

TextParams resolve_text(ParamResolver& r, const io::TextConfig& c, int embed_dim) {
  TextParams t;
  const int64_t w = c.width;
  // Kept in its stored precision: the gather widens the rows it reads.
  t.token_embedding = r.get_stored("text.token_embedding", {c.vocab_size, w}, {DType::F32, DType::F16, DType::BF16});
  t.positional_embedding = r.get("text.positional_embedding", {c.context_length, w});
  for (int i = 0; i < c.layers; ++i)
    t.blocks.push_back(r.block("text.blocks." + num(i) + ".", w, c.mlp_width));
  t.ln_final = r.layernorm("text.ln_final", w);
  if (c.has_projection) t.projection = r.get("text.projection", {embed_dim, w});
  return t;
}

VitParams resolve_vit(ParamResolver& r, const io::VisionConfig& c, int embed_dim) {
  VitParams v;
  const int64_t w = c.width, p = c.patch_size, grid = c.image_size / c.patch_size;
  v.patch_embed = contiguous_conv(r.get("vision.patch_embed", {w, 3, p, p}));
  v.class_embedding = r.get("vision.class_embedding", {w});
  v.positional_embedding = r.get("vision.positional_embedding", {1 + grid * grid, w});
  v.ln_pre = r.layernorm("vision.ln_pre", w);
  for (int i = 0; i < c.layers; ++i)
    v.blocks.push_back(r.block("vision.blocks." + num(i) + ".", w, c.mlp_width));
  v.ln_post = r.layernorm("vision.ln_post", w);
  if (c.has_projection) v.projection = r.get("vision.projection", {embed_dim, w});
  return v;
}

ResNetParams resolve_resnet(ParamResolver& r, const io::VisionConfig& c, int embed_dim) {
  ResNetParams p;
  const int64_t w = c.width, half = w / 2;
  const int64_t stem_in[3] = {3, half, half}, stem_out[3] = {half, half, w};
  for (int i = 0; i < 3; ++i) {
    const std::string s = num(i + 1);
    p.stem_conv[i] =
        contiguous_conv(r.get("vision.stem.conv" + s + ".weight", {stem_out[i], stem_in[i], 3, 3}));
    p.stem_bn[i] = r.batchnorm("vision.stem.bn" + s, stem_out[i]);
  }
  int64_t inplanes = w;
  for (int s = 0; s < 4; ++s) {
    const int64_t planes = w << s;
    for (int j = 0; j < c.resnet_layers[s]; ++j) {
      const std::string pre = "vision.layer" + num(s + 1) + "." + num(j) + ".";
      BottleneckParams b;
      b.inplanes = inplanes;
      b.planes = planes;
      b.stride = (j == 0 && s > 0) ? 2 : 1;
      b.conv1 = contiguous_conv(r.get(pre + "conv1.weight", {planes, inplanes, 1, 1}));
      b.bn1 = r.batchnorm(pre + "bn1", planes);
      b.conv2 = contiguous_conv(r.get(pre + "conv2.weight", {planes, planes, 3, 3}));
      b.bn2 = r.batchnorm(pre + "bn2", planes);
      b.conv3 = contiguous_conv(r.get(pre + "conv3.weight", {planes * 4, planes, 1, 1}));
      b.bn3 = r.batchnorm(pre + "bn3", planes * 4);
      // OpenAI's Bottleneck has a downsample branch when the stride or the width changes.
      b.has_downsample = b.stride > 1 || inplanes != planes * 4;
      if (b.has_downsample) {
        b.downsample_conv =
            contiguous_conv(r.get(pre + "downsample.conv.weight", {planes * 4, inplanes, 1, 1}));
        b.downsample_bn = r.batchnorm(pre + "downsample.bn", planes * 4);
      }
      p.stages[s].push_back(std::move(b));
      inplanes = planes * 4;
    }
  }
  const int64_t d = w * 32, grid = c.image_size / 32;
  p.attnpool_positional_embedding = r.get("vision.attnpool.positional_embedding", {grid * grid + 1, d});
  p.attnpool_q = r.linear("vision.attnpool.q_proj", d, d);
  p.attnpool_k = r.linear("vision.attnpool.k_proj", d, d);
  p.attnpool_v = r.linear("vision.attnpool.v_proj", d, d);
  p.attnpool_c = r.linear("vision.attnpool.c_proj", embed_dim, d);
  return p;
}

}  // namespace clipkit::model
