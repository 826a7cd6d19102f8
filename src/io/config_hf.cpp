// transformers CLIP configs (config.json of CLIPModel, CLIPTextModel(WithProjection),
// CLIPVisionModel(WithProjection)) and CLIPImageProcessor's preprocessor_config.json, to
// ModelConfig and back. Defaults are those of transformers' CLIPTextConfig / CLIPVisionConfig.
#include <cmath>

#include "core/error.h"
#include "io/config.h"
#include "io/json_util.h"

namespace clipkit::io {

using jsonu::json;
using jsonu::Obj;

namespace {

Activation parse_act(const Obj& o) {
  const std::string a = o.get_string("hidden_act", "quick_gelu");
  if (a == "quick_gelu") return Activation::kQuickGelu;
  if (a == "gelu") return Activation::kGelu;
  fail(o.where("hidden_act"), " = '", a, "' is not supported (quick_gelu or gelu)");
}

TextConfig parse_text(const Obj& o) {
  TextConfig t;
  t.vocab_size = o.get_int("vocab_size", 49408);
  t.context_length = o.get_int("max_position_embeddings", 77);
  t.width = o.get_int("hidden_size");
  t.layers = o.get_int("num_hidden_layers");
  t.heads = o.get_int("num_attention_heads");
  t.mlp_width = o.get_int("intermediate_size");
  t.activation = parse_act(o);
  t.ln_eps = o.get_double("layer_norm_eps", 1e-5);
  const int eos = o.get_int("eos_token_id", 49407);
  // transformers keeps OpenAI's argmax pooling for configs saved with the old eos_token_id 2.
  if (eos == 2) {
    t.pooling = TextPooling::kArgmax;
    t.eot_token_id = 49407;
  } else {
    t.pooling = TextPooling::kFirstEot;
    t.eot_token_id = eos;
  }
  return t;
}

VisionConfig parse_vision(const Obj& o) {
  VisionConfig v;
  v.kind = VisionKind::kViT;
  v.width = o.get_int("hidden_size");
  v.layers = o.get_int("num_hidden_layers");
  v.heads = o.get_int("num_attention_heads");
  v.mlp_width = o.get_int("intermediate_size");
  v.image_size = o.get_int("image_size");
  v.patch_size = o.get_int("patch_size");
  const int channels = o.get_int("num_channels", 3);
  CLIPKIT_CHECK(channels == 3, o.where("num_channels"), " = ", channels, ": only RGB (3) is supported");
  v.activation = parse_act(o);
  v.ln_eps = o.get_double("layer_norm_eps", 1e-5);
  return v;
}

bool has_arch(const Obj& top, const std::string& name) {
  if (!top.has("architectures")) return false;
  const json& a = top.raw().at("architectures");
  CLIPKIT_CHECK(a.is_array(), top.where("architectures"), " must be an array of class names");
  for (const auto& x : a)
    if (x.is_string() && x.get<std::string>() == name) return true;
  return false;
}

PreprocessConfig default_preprocess(int image_size) {
  PreprocessConfig p;
  p.profile = PreprocessProfile::kHF;
  p.size = p.crop_size = image_size;
  return p;
}

}  // namespace

ModelConfig parse_hf_config(const std::string& json_text, const std::string& label,
                            std::optional<bool> has_text_projection,
                            std::optional<bool> has_vision_projection) {
  const json root = jsonu::parse(json_text, label);
  const Obj top(root, label, "");
  const std::string type = top.get_string("model_type", "clip");
  ModelConfig c;
  c.name = label;
  if (type == "clip") {
    c.text = parse_text(top.child("text_config"));
    c.vision = parse_vision(top.child("vision_config"));
    c.embed_dim = top.get_int("projection_dim", 512);
    c.logit_scale_init = top.get_double("logit_scale_init_value", 2.6592);
    c.text->has_projection = c.vision->has_projection = true;
  } else if (type == "clip_text_model") {
    c.text = parse_text(top);
    c.embed_dim = top.get_int("projection_dim", 512);
    if (has_arch(top, "CLIPTextModelWithProjection")) c.text->has_projection = true;
    else if (has_arch(top, "CLIPTextModel")) c.text->has_projection = false;
    else c.text->has_projection = has_text_projection.value_or(false);
  } else if (type == "clip_vision_model") {
    c.vision = parse_vision(top);
    c.embed_dim = top.get_int("projection_dim", 512);
    if (has_arch(top, "CLIPVisionModelWithProjection")) c.vision->has_projection = true;
    else if (has_arch(top, "CLIPVisionModel")) c.vision->has_projection = false;
    else c.vision->has_projection = has_vision_projection.value_or(false);
  } else {
    fail(top.where("model_type"), " = '", type,
         "' is not a CLIP model (clip, clip_text_model or clip_vision_model)");
  }
  c.preprocess = default_preprocess(c.vision ? c.vision->image_size : 224);
  validate_config(c);
  return c;
}

PreprocessConfig parse_hf_preprocessor_config(const std::string& json_text,
                                              const std::string& label,
                                              const PreprocessConfig& base) {
  const json root = jsonu::parse(json_text, label);
  const Obj o(root, label, "");
  PreprocessConfig p = base;
  p.profile = PreprocessProfile::kHF;
  CLIPKIT_CHECK(o.get_bool("do_resize", true), o.where("do_resize"), " = false is not supported");
  CLIPKIT_CHECK(o.get_bool("do_center_crop", true), o.where("do_center_crop"),
                " = false is not supported");
  if (o.get_bool("do_rescale", true)) {
    const double f = o.get_double("rescale_factor", 1.0 / 255.0);
    CLIPKIT_CHECK(std::fabs(f - 1.0 / 255.0) < 1e-12, o.where("rescale_factor"), " = ", f,
                  " is not supported (only 1/255)");
  } else {
    fail(o.where("do_rescale"), " = false is not supported");
  }
  if (o.has("size")) {
    const json& s = o.raw().at("size");
    if (s.is_object()) {
      const Obj so = o.child("size");
      if (so.has("shortest_edge")) {
        p.resize_mode = ResizeMode::kShortest;
        p.size = so.get_int("shortest_edge");
      } else {
        const int h = so.get_int("height"), w = so.get_int("width");
        CLIPKIT_CHECK(h == w, o.where("size"), " must be square, got ", h, "x", w);
        p.resize_mode = ResizeMode::kSquash;
        p.size = h;
      }
    } else {
      p.resize_mode = ResizeMode::kShortest;
      p.size = o.get_int("size");
    }
  }
  if (o.has("crop_size")) {
    const json& s = o.raw().at("crop_size");
    if (s.is_object()) {
      const Obj so = o.child("crop_size");
      const int h = so.get_int("height"), w = so.get_int("width");
      CLIPKIT_CHECK(h == w, o.where("crop_size"), " must be square, got ", h, "x", w);
      p.crop_size = h;
    } else {
      p.crop_size = o.get_int("crop_size");
    }
  }
  if (o.get_bool("do_normalize", true)) {
    if (o.has("image_mean")) {
      const auto m = o.get_doubles("image_mean");
      CLIPKIT_CHECK(m.size() == 3, o.where("image_mean"), " must have 3 values, got ", m.size());
      for (int i = 0; i < 3; ++i) p.mean[i] = float(m[i]);
    }
    if (o.has("image_std")) {
      const auto s = o.get_doubles("image_std");
      CLIPKIT_CHECK(s.size() == 3, o.where("image_std"), " must have 3 values, got ", s.size());
      for (int i = 0; i < 3; ++i) p.std[i] = float(s[i]);
    }
  } else {
    p.mean = {0.f, 0.f, 0.f};
    p.std = {1.f, 1.f, 1.f};
  }
  // PIL's resampling filter numbers as transformers stores them.
  static const char* const kResample[] = {"nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"};
  const int r = o.get_int("resample", 3);
  CLIPKIT_CHECK(r >= 0 && r <= 5, o.where("resample"), " = ", r, " is not a PIL filter (0..5)");
  p.resample = kResample[r];
  return p;
}

namespace {

json text_json(const TextConfig& t) {
  json j;
  j["model_type"] = "clip_text_model";
  j["vocab_size"] = t.vocab_size;
  j["max_position_embeddings"] = t.context_length;
  j["hidden_size"] = t.width;
  j["num_hidden_layers"] = t.layers;
  j["num_attention_heads"] = t.heads;
  j["intermediate_size"] = t.mlp_width;
  j["hidden_act"] = activation_name(t.activation);
  j["layer_norm_eps"] = t.ln_eps;
  j["eos_token_id"] = t.pooling == TextPooling::kArgmax ? 2 : t.eot_token_id;
  j["bos_token_id"] = 49406;
  j["pad_token_id"] = 1;
  return j;
}

json vision_json(const VisionConfig& v) {
  json j;
  j["model_type"] = "clip_vision_model";
  j["hidden_size"] = v.width;
  j["num_hidden_layers"] = v.layers;
  j["num_attention_heads"] = v.heads;
  j["intermediate_size"] = v.mlp_width;
  j["image_size"] = v.image_size;
  j["patch_size"] = v.patch_size;
  j["num_channels"] = 3;
  j["hidden_act"] = activation_name(v.activation);
  j["layer_norm_eps"] = v.ln_eps;
  return j;
}

}  // namespace

std::string hf_config_json(const ModelConfig& c) {
  CLIPKIT_CHECK(!c.vision || c.vision->kind == VisionKind::kViT, c.name,
                ": transformers has no ModifiedResNet CLIP; save it in the OpenAI layout");
  json root;
  if (c.text && c.vision) {
    CLIPKIT_CHECK(c.text->has_projection && c.vision->has_projection, c.name,
                  ": a CLIPModel has both projections");
    root["architectures"] = {"CLIPModel"};
    root["model_type"] = "clip";
    root["projection_dim"] = c.embed_dim;
    root["logit_scale_init_value"] = c.logit_scale_init;
    root["text_config"] = text_json(*c.text);
    root["vision_config"] = vision_json(*c.vision);
  } else if (c.text) {
    root = text_json(*c.text);
    root["architectures"] = {c.text->has_projection ? "CLIPTextModelWithProjection" : "CLIPTextModel"};
    root["projection_dim"] = c.embed_dim;
  } else {
    root = vision_json(*c.vision);
    root["architectures"] = {c.vision->has_projection ? "CLIPVisionModelWithProjection"
                                                      : "CLIPVisionModel"};
    root["projection_dim"] = c.embed_dim;
  }
  root["torch_dtype"] = "float32";
  return root.dump(2) + "\n";
}

std::string hf_preprocessor_config_json(const ModelConfig& c) {
  const PreprocessConfig& p = c.preprocess;
  json j;
  j["image_processor_type"] = "CLIPImageProcessor";
  j["do_resize"] = true;
  j["do_center_crop"] = true;
  j["do_rescale"] = true;
  j["rescale_factor"] = 1.0 / 255.0;
  j["do_normalize"] = true;
  j["do_convert_rgb"] = true;
  CLIPKIT_CHECK(p.resize_mode != ResizeMode::kLongest, c.name,
                ": CLIPImageProcessor cannot express resize_mode longest");
  if (p.resize_mode == ResizeMode::kShortest) j["size"] = {{"shortest_edge", p.size}};
  else j["size"] = {{"height", p.size}, {"width", p.size}};
  j["crop_size"] = {{"height", p.crop_size}, {"width", p.crop_size}};
  j["image_mean"] = jsonu::short_floats(p.mean);
  j["image_std"] = jsonu::short_floats(p.std);
  static const char* const kResample[] = {"nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"};
  int r = 3;
  for (int i = 0; i < 6; ++i)
    if (p.resample == kResample[i]) r = i;
  j["resample"] = r;
  return j.dump(2) + "\n";
}

}  // namespace clipkit::io
