// open_clip_config.json (OpenCLIP's model_cfg + preprocess_cfg) to ModelConfig and back. Field
// defaults are OpenCLIP's CLIPVisionCfg / CLIPTextCfg defaults; options that change the network
// in ways the engine does not implement are refused by name rather than silently ignored.
#include <cmath>

#include "core/error.h"
#include "io/config.h"
#include "core/mapped_file.h"
#include "io/json_util.h"

namespace clipkit::io {

using jsonu::json;
using jsonu::Obj;

namespace {

const std::array<float, 3> kOpenAIMean = {0.48145466f, 0.4578275f, 0.40821073f};
const std::array<float, 3> kOpenAIStd = {0.26862954f, 0.26130258f, 0.27577711f};

// Refuses `key` unless it is absent, null or equal to the harmless value `ok`.
void refuse_unless(const Obj& o, const std::string& key, const json& ok, const char* what) {
  if (!o.has(key)) return;
  const json& v = o.raw().at(key);
  if (v == ok) return;
  fail(o.where(key), " = ", v.dump(), ": ", what, " is not supported");
}

// open_clip sizes are an int or an [h, w] pair; the engine needs square inputs.
int square_size(const Obj& o, const std::string& key) {
  const json& v = o.raw().at(key);
  if (v.is_array()) {
    const std::vector<int> hw = o.get_ints(key);
    CLIPKIT_CHECK(hw.size() == 2 && hw[0] == hw[1], o.where(key),
                  " must be an integer or a square [h, w] pair, got ", v.dump());
    return hw[0];
  }
  return o.get_int(key);
}

// OpenCLIP's norm_kwargs may only set the LayerNorm epsilon.
double norm_eps(const Obj& o) {
  auto nk = o.opt_child("norm_kwargs");
  if (!nk) return 1e-5;
  for (auto it = nk->raw().begin(); it != nk->raw().end(); ++it)
    CLIPKIT_CHECK(it.key() == "eps", nk->where(it.key()), ": only eps is supported in norm_kwargs");
  return nk->get_double("eps", 1e-5);
}

// int(width * mlp_ratio) exactly as Python truncates the float product.
int mlp_width(int width, double ratio) { return int(double(width) * ratio); }

VisionConfig parse_vision(const Obj& v, Activation act, const std::string& model) {
  refuse_unless(v, "timm_model_name", nullptr, "a timm vision tower");
  refuse_unless(v, "ls_init_value", nullptr, "layer scale");
  refuse_unless(v, "attentional_pool", false, "attentional pooling");
  refuse_unless(v, "no_ln_pre", false, "a ViT without ln_pre");
  refuse_unless(v, "final_ln_after_pool", false, "final LayerNorm after pooling");
  refuse_unless(v, "pool_type", "tok", "vision pool_type other than 'tok'");
  refuse_unless(v, "pos_embed_type", "learnable", "non-learnable position embeddings");
  refuse_unless(v, "input_patchnorm", false, "input patch normalisation");
  refuse_unless(v, "global_average_pool", false, "global average pooling");
  refuse_unless(v, "act_kwargs", nullptr, "act_kwargs");
  VisionConfig c;
  c.activation = act;
  c.ln_eps = norm_eps(v);
  c.image_size = square_size(v, "image_size");
  c.width = v.get_int("width");
  const int head_width = v.get_int("head_width", 64);
  CLIPKIT_CHECK(head_width > 0, v.where("head_width"), " must be positive, got ", head_width);
  if (v.has("layers") && v.raw().at("layers").is_array()) {
    const std::vector<int> layers = v.get_ints("layers");
    CLIPKIT_CHECK(layers.size() == 4, v.where("layers"),
                  " must list 4 ResNet stages, got ", layers.size());
    c.kind = VisionKind::kModifiedResNet;
    for (int i = 0; i < 4; ++i) c.resnet_layers[i] = layers[i];
    c.layers = layers[0] + layers[1] + layers[2] + layers[3];
    // OpenCLIP: heads = width * 32 // head_width (the attention pool runs at width * 32).
    CLIPKIT_CHECK((c.width * 32) % head_width == 0, v.where("head_width"), " (", head_width,
                  ") does not divide the attention-pool width ", c.width * 32);
    c.heads = c.width * 32 / head_width;
    c.patch_size = 0;
    c.mlp_width = 0;
  } else {
    c.kind = VisionKind::kViT;
    c.layers = v.get_int("layers");
    c.patch_size = square_size(v, "patch_size");
    CLIPKIT_CHECK(c.width % head_width == 0, v.where("head_width"), " (", head_width,
                  ") does not divide the width ", c.width);
    c.heads = c.width / head_width;
    c.mlp_width = mlp_width(c.width, v.get_double("mlp_ratio", 4.0));
  }
  (void)model;
  return c;
}

TextConfig parse_text(const Obj& t, Activation act) {
  refuse_unless(t, "hf_model_name", nullptr, "a Hugging Face text tower");
  refuse_unless(t, "ls_init_value", nullptr, "layer scale");
  refuse_unless(t, "embed_cls", false, "a CLS text embedding");
  refuse_unless(t, "no_causal_mask", false, "a text tower without causal mask");
  refuse_unless(t, "final_ln_after_pool", false, "final LayerNorm after pooling");
  refuse_unless(t, "pool_type", "argmax", "text pool_type other than 'argmax'");
  refuse_unless(t, "proj_bias", false, "a text projection bias");
  refuse_unless(t, "act_kwargs", nullptr, "act_kwargs");
  TextConfig c;
  c.activation = act;
  c.ln_eps = norm_eps(t);
  c.context_length = t.get_int("context_length", 77);
  c.vocab_size = t.get_int("vocab_size", 49408);
  c.width = t.get_int("width");
  c.heads = t.get_int("heads");
  c.layers = t.get_int("layers");
  c.mlp_width = mlp_width(c.width, t.get_double("mlp_ratio", 4.0));
  c.pooling = TextPooling::kArgmax;
  c.eot_token_id = 49407;
  const std::string proj = t.get_string("proj_type", "linear");
  CLIPKIT_CHECK(proj == "linear" || proj == "none", t.where("proj_type"), " = '", proj,
                "' is not supported (linear or none)");
  c.has_projection = proj == "linear";
  return c;
}

PreprocessConfig parse_preprocess(const std::optional<Obj>& p, int image_size) {
  PreprocessConfig c;
  c.profile = PreprocessProfile::kOpenAI;
  c.size = c.crop_size = image_size;
  c.mean = kOpenAIMean;
  c.std = kOpenAIStd;
  if (!p) return c;
  if (p->has("size")) c.size = c.crop_size = square_size(*p, "size");
  if (p->has("mean")) {
    const auto m = p->get_doubles("mean");
    CLIPKIT_CHECK(m.size() == 3, p->where("mean"), " must have 3 values, got ", m.size());
    for (int i = 0; i < 3; ++i) c.mean[i] = float(m[i]);
  }
  if (p->has("std")) {
    const auto s = p->get_doubles("std");
    CLIPKIT_CHECK(s.size() == 3, p->where("std"), " must have 3 values, got ", s.size());
    for (int i = 0; i < 3; ++i) c.std[i] = float(s[i]);
  }
  c.resample = p->get_string("interpolation", "bicubic");
  CLIPKIT_CHECK(c.resample == "bicubic" || c.resample == "bilinear", p->where("interpolation"),
                " = '", c.resample, "' is not supported (bicubic or bilinear)");
  const std::string mode = p->get_string("resize_mode", "shortest");
  if (mode == "shortest") c.resize_mode = ResizeMode::kShortest;
  else if (mode == "longest") c.resize_mode = ResizeMode::kLongest;
  else if (mode == "squash") c.resize_mode = ResizeMode::kSquash;
  else fail(p->where("resize_mode"), " = '", mode, "' is not one of shortest, longest, squash");
  c.fill_color = p->get_int("fill_color", 0);
  return c;
}

}  // namespace

ModelConfig parse_open_clip_config(const std::string& json_text, const std::string& label) {
  const json root = jsonu::parse(json_text, label);
  const Obj top(root, label, "");
  // Either the published open_clip_config.json or a bare model config.
  const bool wrapped = top.has("model_cfg");
  const Obj mc = wrapped ? top.child("model_cfg") : top;
  refuse_unless(mc, "custom_text", false, "custom_text (a text tower named text.*)");
  refuse_unless(mc, "multimodal_cfg", nullptr, "a multimodal decoder (CoCa)");
  refuse_unless(mc, "init_logit_bias", nullptr, "a logit bias (SigLIP)");
  ModelConfig c;
  c.name = label;
  c.embed_dim = mc.get_int("embed_dim");
  const Activation act = mc.get_bool("quick_gelu", false) ? Activation::kQuickGelu : Activation::kGelu;
  c.vision = parse_vision(mc.child("vision_cfg"), act, label);
  c.text = parse_text(mc.child("text_cfg"), act);
  c.logit_scale_init = mc.get_double("init_logit_scale", std::log(1.0 / 0.07));
  c.preprocess = parse_preprocess(wrapped ? top.opt_child("preprocess_cfg") : std::nullopt,
                                  c.vision->image_size);
  validate_config(c);
  return c;
}

ModelConfig load_open_clip_config(const std::string& path) {
  return parse_open_clip_config(read_file(path), path);
}

std::string open_clip_config_json(const ModelConfig& c) {
  CLIPKIT_CHECK(c.text && c.vision, c.name,
                ": an open_clip_config.json needs both a text and a vision tower");
  const TextConfig& t = *c.text;
  const VisionConfig& v = *c.vision;
  CLIPKIT_CHECK(t.activation == v.activation, c.name,
                ": OpenCLIP uses one activation for both towers (text ", activation_name(t.activation),
                ", vision ", activation_name(v.activation), ")");
  CLIPKIT_CHECK(t.ln_eps == v.ln_eps, c.name, ": OpenCLIP uses one LayerNorm eps for both towers");
  json vc;
  vc["image_size"] = v.image_size;
  vc["width"] = v.width;
  if (v.kind == VisionKind::kViT) {
    vc["layers"] = v.layers;
    vc["patch_size"] = v.patch_size;
    vc["head_width"] = v.width / v.heads;
    // Choose the ratio so that int(width * ratio) gives back mlp_width exactly.
    double r = double(v.mlp_width) / v.width;
    while (int(double(v.width) * r) < v.mlp_width) r = std::nextafter(r, 1e9);
    vc["mlp_ratio"] = r;
  } else {
    vc["layers"] = v.resnet_layers;
    vc["head_width"] = v.width * 32 / v.heads;
  }
  json tc;
  tc["context_length"] = t.context_length;
  tc["vocab_size"] = t.vocab_size;
  tc["width"] = t.width;
  tc["heads"] = t.heads;
  tc["layers"] = t.layers;
  double r = double(t.mlp_width) / t.width;
  while (int(double(t.width) * r) < t.mlp_width) r = std::nextafter(r, 1e9);
  tc["mlp_ratio"] = r;
  if (!t.has_projection) tc["proj_type"] = "none";
  if (t.ln_eps != 1e-5) {
    vc["norm_kwargs"] = {{"eps", t.ln_eps}};
    tc["norm_kwargs"] = {{"eps", t.ln_eps}};
  }
  json mc;
  mc["embed_dim"] = c.embed_dim;
  mc["quick_gelu"] = t.activation == Activation::kQuickGelu;
  mc["vision_cfg"] = vc;
  mc["text_cfg"] = tc;
  mc["init_logit_scale"] = c.logit_scale_init;
  const PreprocessConfig& p = c.preprocess;
  json pc;
  pc["size"] = p.size;
  pc["mean"] = jsonu::short_floats(p.mean);
  pc["std"] = jsonu::short_floats(p.std);
  pc["interpolation"] = p.resample;
  pc["resize_mode"] = resize_mode_name(p.resize_mode);
  pc["fill_color"] = p.fill_color;
  json root;
  root["model_cfg"] = mc;
  root["preprocess_cfg"] = pc;
  return root.dump(1) + "\n";
}

}  // namespace clipkit::io
