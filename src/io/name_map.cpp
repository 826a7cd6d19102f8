// Canonical shapes and the OpenAI / transformers name maps, and applying a map in either
// direction.
#include "io/name_map.h"

#include <cstring>
#include <set>
#include <sstream>

#include "core/error.h"
#include "io/quantize.h"

namespace clipkit::io {

namespace {

using Shapes = std::vector<std::pair<std::string, Shape>>;

std::string str(int v) { return std::to_string(v); }

void add_block(Shapes& out, const std::string& p, int64_t w, int64_t m) {
  out.push_back({p + "ln_1.weight", {w}});
  out.push_back({p + "ln_1.bias", {w}});
  for (const char* x : {"q", "k", "v"}) out.push_back({p + "attn." + x + "_proj.weight", {w, w}});
  for (const char* x : {"q", "k", "v"}) out.push_back({p + "attn." + x + "_proj.bias", {w}});
  out.push_back({p + "attn.out_proj.weight", {w, w}});
  out.push_back({p + "attn.out_proj.bias", {w}});
  out.push_back({p + "ln_2.weight", {w}});
  out.push_back({p + "ln_2.bias", {w}});
  out.push_back({p + "mlp.fc1.weight", {m, w}});
  out.push_back({p + "mlp.fc1.bias", {m}});
  out.push_back({p + "mlp.fc2.weight", {w, m}});
  out.push_back({p + "mlp.fc2.bias", {w}});
}

void add_bn(Shapes& out, const std::string& p, int64_t c) {
  for (const char* x : {"weight", "bias", "running_mean", "running_var"}) out.push_back({p + x, {c}});
}

// ModifiedResNet: 3-conv stem, four stages of Bottleneck blocks (expansion 4), attention pool.
void add_resnet(Shapes& out, const VisionConfig& v, int64_t embed) {
  const int64_t w = v.width, half = w / 2;
  out.push_back({"vision.stem.conv1.weight", {half, 3, 3, 3}});
  add_bn(out, "vision.stem.bn1.", half);
  out.push_back({"vision.stem.conv2.weight", {half, half, 3, 3}});
  add_bn(out, "vision.stem.bn2.", half);
  out.push_back({"vision.stem.conv3.weight", {w, half, 3, 3}});
  add_bn(out, "vision.stem.bn3.", w);
  int64_t inplanes = w;
  for (int s = 0; s < 4; ++s) {
    const int64_t planes = w << s;
    const int stride = s == 0 ? 1 : 2;
    for (int j = 0; j < v.resnet_layers[s]; ++j) {
      const std::string p = "vision.layer" + str(s + 1) + "." + str(j) + ".";
      out.push_back({p + "conv1.weight", {planes, inplanes, 1, 1}});
      add_bn(out, p + "bn1.", planes);
      out.push_back({p + "conv2.weight", {planes, planes, 3, 3}});
      add_bn(out, p + "bn2.", planes);
      out.push_back({p + "conv3.weight", {planes * 4, planes, 1, 1}});
      add_bn(out, p + "bn3.", planes * 4);
      // OpenAI's Bottleneck downsamples when the stride or the channel count changes.
      if ((j == 0 && stride > 1) || inplanes != planes * 4) {
        out.push_back({p + "downsample.conv.weight", {planes * 4, inplanes, 1, 1}});
        add_bn(out, p + "downsample.bn.", planes * 4);
      }
      inplanes = planes * 4;
    }
  }
  const int64_t d = w * 32, grid = v.image_size / 32;
  out.push_back({"vision.attnpool.positional_embedding", {grid * grid + 1, d}});
  for (const char* x : {"q", "k", "v"}) {
    out.push_back({std::string("vision.attnpool.") + x + "_proj.weight", {d, d}});
    out.push_back({std::string("vision.attnpool.") + x + "_proj.bias", {d}});
  }
  out.push_back({"vision.attnpool.c_proj.weight", {embed, d}});
  out.push_back({"vision.attnpool.c_proj.bias", {embed}});
}

using Rules = std::vector<NameRule>;

void rule(Rules& r, std::string file, std::string canonical, MapOp op = MapOp::kSame) {
  r.push_back({std::move(file), {std::move(canonical)}, op});
}

// One transformer block. `f` is the file prefix, `c` the canonical prefix.
void openai_block(Rules& r, const std::string& f, const std::string& c) {
  rule(r, f + "ln_1.weight", c + "ln_1.weight");
  rule(r, f + "ln_1.bias", c + "ln_1.bias");
  r.push_back({f + "attn.in_proj_weight",
               {c + "attn.q_proj.weight", c + "attn.k_proj.weight", c + "attn.v_proj.weight"},
               MapOp::kSplitRows});
  r.push_back({f + "attn.in_proj_bias",
               {c + "attn.q_proj.bias", c + "attn.k_proj.bias", c + "attn.v_proj.bias"},
               MapOp::kSplitRows});
  rule(r, f + "attn.out_proj.weight", c + "attn.out_proj.weight");
  rule(r, f + "attn.out_proj.bias", c + "attn.out_proj.bias");
  rule(r, f + "ln_2.weight", c + "ln_2.weight");
  rule(r, f + "ln_2.bias", c + "ln_2.bias");
  rule(r, f + "mlp.c_fc.weight", c + "mlp.fc1.weight");
  rule(r, f + "mlp.c_fc.bias", c + "mlp.fc1.bias");
  rule(r, f + "mlp.c_proj.weight", c + "mlp.fc2.weight");
  rule(r, f + "mlp.c_proj.bias", c + "mlp.fc2.bias");
}

void hf_block(Rules& r, const std::string& f, const std::string& c) {
  for (const char* x : {"weight", "bias"}) {
    const std::string s = x;
    rule(r, f + "layer_norm1." + s, c + "ln_1." + s);
    for (const char* p : {"q", "k", "v", "out"})
      rule(r, f + "self_attn." + p + "_proj." + s, c + "attn." + p + "_proj." + s);
    rule(r, f + "layer_norm2." + s, c + "ln_2." + s);
    rule(r, f + "mlp.fc1." + s, c + "mlp.fc1." + s);
    rule(r, f + "mlp.fc2." + s, c + "mlp.fc2." + s);
  }
}

bool ends_with(const std::string& s, const char* x) {
  const size_t n = std::strlen(x);
  return s.size() >= n && s.compare(s.size() - n, n, x) == 0;
}

}  // namespace

std::vector<std::pair<std::string, Shape>> canonical_shapes(const ModelConfig& c) {
  Shapes out;
  if (c.text) {
    const TextConfig& t = *c.text;
    out.push_back({"text.token_embedding", {t.vocab_size, t.width}});
    out.push_back({"text.positional_embedding", {t.context_length, t.width}});
    for (int i = 0; i < t.layers; ++i) add_block(out, "text.blocks." + str(i) + ".", t.width, t.mlp_width);
    out.push_back({"text.ln_final.weight", {t.width}});
    out.push_back({"text.ln_final.bias", {t.width}});
    if (t.has_projection) out.push_back({"text.projection", {c.embed_dim, t.width}});
  }
  if (c.vision) {
    const VisionConfig& v = *c.vision;
    if (v.kind == VisionKind::kViT) {
      const int64_t grid = v.image_size / v.patch_size;
      out.push_back({"vision.patch_embed", {v.width, 3, v.patch_size, v.patch_size}});
      out.push_back({"vision.class_embedding", {v.width}});
      out.push_back({"vision.positional_embedding", {grid * grid + 1, v.width}});
      out.push_back({"vision.ln_pre.weight", {v.width}});
      out.push_back({"vision.ln_pre.bias", {v.width}});
      for (int i = 0; i < v.layers; ++i)
        add_block(out, "vision.blocks." + str(i) + ".", v.width, v.mlp_width);
      out.push_back({"vision.ln_post.weight", {v.width}});
      out.push_back({"vision.ln_post.bias", {v.width}});
      if (v.has_projection) out.push_back({"vision.projection", {c.embed_dim, v.width}});
    } else {
      add_resnet(out, v, c.embed_dim);
    }
  }
  if (c.text && c.vision) out.push_back({"logit_scale", {}});
  return out;
}

std::vector<NameRule> openai_name_map(const ModelConfig& c) {
  Rules r;
  if (c.text) {
    const TextConfig& t = *c.text;
    rule(r, "token_embedding.weight", "text.token_embedding");
    rule(r, "positional_embedding", "text.positional_embedding");
    for (int i = 0; i < t.layers; ++i)
      openai_block(r, "transformer.resblocks." + str(i) + ".", "text.blocks." + str(i) + ".");
    rule(r, "ln_final.weight", "text.ln_final.weight");
    rule(r, "ln_final.bias", "text.ln_final.bias");
    if (t.has_projection) rule(r, "text_projection", "text.projection", MapOp::kTranspose);
  }
  if (c.vision) {
    const VisionConfig& v = *c.vision;
    if (v.kind == VisionKind::kViT) {
      rule(r, "visual.conv1.weight", "vision.patch_embed");
      rule(r, "visual.class_embedding", "vision.class_embedding");
      rule(r, "visual.positional_embedding", "vision.positional_embedding");
      rule(r, "visual.ln_pre.weight", "vision.ln_pre.weight");
      rule(r, "visual.ln_pre.bias", "vision.ln_pre.bias");
      for (int i = 0; i < v.layers; ++i)
        openai_block(r, "visual.transformer.resblocks." + str(i) + ".", "vision.blocks." + str(i) + ".");
      rule(r, "visual.ln_post.weight", "vision.ln_post.weight");
      rule(r, "visual.ln_post.bias", "vision.ln_post.bias");
      if (v.has_projection) rule(r, "visual.proj", "vision.projection", MapOp::kTranspose);
    } else {
      // Derive the ResNet rules from the canonical names, which mirror OpenAI's module tree.
      for (const auto& [name, shape] : canonical_shapes(c)) {
        if (name.rfind("vision.", 0) != 0) continue;
        std::string f = "visual." + name.substr(7);
        if (f.rfind("visual.stem.", 0) == 0) f = "visual." + f.substr(12);
        size_t pos = f.find(".downsample.conv.");
        if (pos != std::string::npos) f.replace(pos, 17, ".downsample.0.");
        pos = f.find(".downsample.bn.");
        if (pos != std::string::npos) f.replace(pos, 15, ".downsample.1.");
        rule(r, f, name);
      }
    }
  }
  if (c.text && c.vision) rule(r, "logit_scale", "logit_scale");
  return r;
}

std::vector<NameRule> hf_name_map(const ModelConfig& c, const HfPrefixes& p) {
  Rules r;
  if (c.text) {
    const TextConfig& t = *c.text;
    const std::string& T = p.text;
    rule(r, T + "embeddings.token_embedding.weight", "text.token_embedding");
    rule(r, T + "embeddings.position_embedding.weight", "text.positional_embedding");
    for (int i = 0; i < t.layers; ++i)
      hf_block(r, T + "encoder.layers." + str(i) + ".", "text.blocks." + str(i) + ".");
    rule(r, T + "final_layer_norm.weight", "text.ln_final.weight");
    rule(r, T + "final_layer_norm.bias", "text.ln_final.bias");
    if (t.has_projection) rule(r, "text_projection.weight", "text.projection");
  }
  if (c.vision) {
    const VisionConfig& v = *c.vision;
    CLIPKIT_CHECK(v.kind == VisionKind::kViT, c.name,
                  ": the transformers layout has no ModifiedResNet vision tower");
    const std::string& V = p.vision;
    rule(r, V + "embeddings.patch_embedding.weight", "vision.patch_embed");
    rule(r, V + "embeddings.class_embedding", "vision.class_embedding");
    rule(r, V + "embeddings.position_embedding.weight", "vision.positional_embedding");
    // "pre_layrnorm" is transformers' own spelling.
    rule(r, V + "pre_layrnorm.weight", "vision.ln_pre.weight");
    rule(r, V + "pre_layrnorm.bias", "vision.ln_pre.bias");
    for (int i = 0; i < v.layers; ++i)
      hf_block(r, V + "encoder.layers." + str(i) + ".", "vision.blocks." + str(i) + ".");
    rule(r, V + "post_layernorm.weight", "vision.ln_post.weight");
    rule(r, V + "post_layernorm.bias", "vision.ln_post.bias");
    if (v.has_projection) rule(r, "visual_projection.weight", "vision.projection");
  }
  if (c.text && c.vision) rule(r, "logit_scale", "logit_scale");
  return r;
}

std::map<std::string, std::string> reverse_map(const std::vector<NameRule>& rules) {
  std::map<std::string, std::string> out;
  for (const NameRule& r : rules)
    for (const std::string& c : r.canonical) out[c] = r.file;
  return out;
}

std::map<std::string, std::string> canonical_to_openai(const ModelConfig& c) {
  return reverse_map(openai_name_map(c));
}
std::map<std::string, std::string> canonical_to_hf(const ModelConfig& c) {
  return reverse_map(hf_name_map(c));
}

bool is_ignored_tensor(const std::string& name) {
  // OpenAI's released TorchScript models also carry three scalar buffers that its build_model()
  // deletes before loading the state dict.
  return ends_with(name, "num_batches_tracked") || ends_with(name, "embeddings.position_ids") ||
         name == "input_resolution" || name == "context_length" || name == "vocab_size";
}

namespace {

Shape file_shape(const NameRule& r, const Shape& canonical) {
  switch (r.op) {
    case MapOp::kSame: return canonical;
    case MapOp::kTranspose: return Shape(canonical.rbegin(), canonical.rend());
    case MapOp::kSplitRows: {
      Shape s = canonical;
      s[0] *= int64_t(r.canonical.size());
      return s;
    }
  }
  return canonical;
}

// The companion of an int8 weight in a file: "<file name>_scale" ("...attn.in_proj_weight_scale",
// "...mlp.c_fc.weight_scale", "...self_attn.q_proj.weight_scale").
std::string file_scale_name(const NameRule& r) { return scale_name(r.file); }

// Canonical views of `t` (a file tensor or its scale) under rule `r`: the whole tensor, or its
// row blocks for a fused q/k/v tensor.
void split_into(const NameRule& r, const Tensor& t, int64_t rows_per_part, const std::string& suffix,
                std::map<std::string, Tensor>& out) {
  switch (r.op) {
    case MapOp::kSame:
      out[r.canonical[0] + suffix] = t;
      break;
    case MapOp::kTranspose:
      out[r.canonical[0] + suffix] = t.transpose();
      break;
    case MapOp::kSplitRows:
      for (size_t k = 0; k < r.canonical.size(); ++k)
        out[r.canonical[k] + suffix] = t.slice(0, int64_t(k) * rows_per_part, int64_t(k + 1) * rows_per_part);
      break;
  }
  for (const std::string& cn : r.canonical) out[cn + suffix].set_name(cn + suffix);
}

// Checks an int8 file tensor's scale and maps it next to the weight; returns its file name.
std::string map_int8_scale(const NameRule& r, const Shape& file_shape_of_weight,
                           const std::map<std::string, Tensor>& files, const std::string& label,
                           std::map<std::string, Tensor>& out) {
  CLIPKIT_CHECK(is_int8_weight_name(r.canonical[0]), label, ": tensor '", r.file,
                "' is I8, but only the linear weights of transformer blocks (attention q/k/v/out, "
                "MLP fc1/fc2) may be int8");
  const std::string sn = file_scale_name(r);
  auto it = files.find(sn);
  CLIPKIT_CHECK(it != files.end(), label, ": int8 weight '", r.file, "' has no scale tensor '", sn,
                "' (F32 [", file_shape_of_weight[0], "], one per output row)");
  const Tensor& s = it->second;
  CLIPKIT_CHECK(s.dtype() == DType::F32, label, ": scale '", sn, "' has dtype ",
                dtype_name(s.dtype()), "; int8 scales must be F32");
  CLIPKIT_CHECK(s.shape() == Shape{file_shape_of_weight[0]}, label, ": scale '", sn,
                "' has shape ", shape_str(s.shape()), " but int8 weight '", r.file, "' ",
                shape_str(file_shape_of_weight), " needs [", file_shape_of_weight[0],
                "] (one per output row)");
  split_into(r, s, file_shape_of_weight[0] / int64_t(r.canonical.size()), "_scale", out);
  return sn;
}

std::string list(const std::vector<std::string>& items, size_t max_items) {
  std::ostringstream os;
  for (size_t i = 0; i < items.size() && i < max_items; ++i) os << (i ? ", " : "") << items[i];
  if (items.size() > max_items) os << " and " << items.size() - max_items << " more";
  return os.str();
}

}  // namespace

std::map<std::string, Tensor> map_to_canonical(const std::vector<NameRule>& rules,
                                               const ModelConfig& c,
                                               const std::map<std::string, Tensor>& files,
                                               const std::string& label) {
  std::map<std::string, Shape> shapes;
  for (auto& [n, s] : canonical_shapes(c)) shapes.emplace(n, s);
  std::map<std::string, Tensor> out;
  std::set<std::string> used;
  std::vector<std::string> missing;
  for (const NameRule& r : rules) {
    const Shape& cs = shapes.at(r.canonical[0]);
    const Shape want = file_shape(r, cs);
    auto it = files.find(r.file);
    if (it == files.end()) {
      missing.push_back("'" + r.file + "' " + shape_str(want));
      continue;
    }
    CLIPKIT_CHECK(used.insert(r.file).second, label, ": tensor '", r.file, "' mapped twice");
    const Tensor& t = it->second;
    CLIPKIT_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F16 || t.dtype() == DType::BF16 ||
                      t.dtype() == DType::I8,
                  label, ": tensor '", r.file, "' has dtype ", dtype_name(t.dtype()),
                  "; weights must be F32, F16 or BF16 (or I8 with a '_scale' tensor)");
    CLIPKIT_CHECK(t.shape() == want, label, ": tensor '", r.file, "' has shape ",
                  shape_str(t.shape()), " but the architecture (", c.name, ") needs ",
                  shape_str(want), " for '", r.canonical[0], "'",
                  r.canonical.size() > 1 ? " and its siblings" : "");
    if (t.dtype() == DType::I8) {
      used.insert(map_int8_scale(r, want, files, label, out));
    } else if (files.count(file_scale_name(r))) {
      fail(label, ": '", file_scale_name(r), "' is a scale without an int8 weight: '", r.file,
           "' is ", dtype_name(t.dtype()));
    }
    split_into(r, t, cs.empty() ? 0 : cs[0], "", out);
  }
  std::vector<std::string> extra;
  for (const auto& [n, t] : files)
    if (!used.count(n) && !is_ignored_tensor(n)) extra.push_back("'" + n + "' " + shape_str(t.shape()));
  if (!missing.empty() || !extra.empty()) {
    std::ostringstream os;
    os << label << ": the tensors do not match the architecture (" << c.name << ")";
    if (!missing.empty()) os << "; missing " << missing.size() << ": " << list(missing, 6);
    if (!extra.empty()) os << "; unexpected " << extra.size() << ": " << list(extra, 6);
    fail(os.str());
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> map_from_canonical(
    const std::vector<NameRule>& rules, const std::map<std::string, Tensor>& params,
    const std::string& label) {
  auto get = [&](const std::string& n) -> const Tensor& {
    auto it = params.find(n);
    if (it == params.end()) fail(label, ": canonical parameter '", n, "' is missing");
    return it->second;
  };
  // The file tensor of rule r built from the canonical tensors "<canonical name><suffix>" (the
  // weights with "", their int8 scales with "_scale").
  auto file_tensor = [&](const NameRule& r, const std::string& suffix) -> Tensor {
    switch (r.op) {
      case MapOp::kSame:
        return get(r.canonical[0] + suffix);
      case MapOp::kTranspose:
        return get(r.canonical[0] + suffix).transpose().contiguous();
      case MapOp::kSplitRows:
        break;
    }
    const Tensor& first = get(r.canonical[0] + suffix);
    Shape s = first.shape();
    CLIPKIT_CHECK(!s.empty(), label, ": '", r.canonical[0] + suffix, "' has no rows to fuse");
    s[0] *= int64_t(r.canonical.size());
    Tensor fused = Tensor::empty(first.dtype(), s);
    char* dst = static_cast<char*>(fused.raw());
    for (const std::string& cn : r.canonical) {
      const Tensor part = get(cn + suffix).contiguous();
      CLIPKIT_CHECK(part.dtype() == first.dtype() && part.shape() == first.shape(), label, ": '",
                    cn + suffix, "' does not match '", r.canonical[0] + suffix,
                    "' in dtype or shape");
      std::memcpy(dst, part.raw(), part.nbytes());
      dst += part.nbytes();
    }
    return fused;
  };
  std::set<std::string> scales_written;
  std::vector<std::pair<std::string, Tensor>> out;
  for (const NameRule& r : rules) {
    const Tensor weight = file_tensor(r, "");
    out.emplace_back(r.file, weight);
    if (weight.dtype() != DType::I8) continue;
    // An int8 weight travels with its per-row scales.
    CLIPKIT_CHECK(is_int8_weight_name(r.canonical[0]), label, ": '", r.canonical[0],
                  "' is I8, but only transformer block linear weights may be int8");
    for (const std::string& cn : r.canonical) {
      auto it = params.find(scale_name(cn));
      CLIPKIT_CHECK(it != params.end(), label, ": int8 weight '", cn, "' has no scale '",
                    scale_name(cn), "'");
      CLIPKIT_CHECK(it->second.dtype() == DType::F32 && it->second.shape() == Shape{get(cn).dim(0)},
                    label, ": scale '", scale_name(cn), "' is ", dtype_name(it->second.dtype()), " ",
                    shape_str(it->second.shape()), "; int8 weight '", cn, "' needs F32 [",
                    get(cn).dim(0), "]");
      scales_written.insert(scale_name(cn));
    }
    out.emplace_back(file_scale_name(r), file_tensor(r, "_scale"));
  }
  for (const auto& [n, t] : params)
    CLIPKIT_CHECK(!ends_with(n, ".weight_scale") || scales_written.count(n), label, ": '", n,
                  "' is a scale without an int8 weight");
  return out;
}

}  // namespace clipkit::io
