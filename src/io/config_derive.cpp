// Architecture from an OpenAI-layout state dict, the way OpenAI's clip/model.py build_model()
// reads it off the tensor shapes. Only used when no config file or preset is available.
#include <cmath>
#include <set>

#include "core/error.h"
#include "io/config.h"

namespace clipkit::io {

namespace {

const Shape& need(const std::map<std::string, Shape>& s, const std::string& name,
                  const std::string& label, size_t ndim) {
  auto it = s.find(name);
  if (it == s.end())
    fail(label, ": cannot derive the architecture without tensor '", name,
         "' (give a config file or --arch)");
  CLIPKIT_CHECK(it->second.size() == ndim, label, ": tensor '", name, "' has shape ",
                shape_str(it->second), ", expected ", ndim, " dimensions");
  return it->second;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

// Number of distinct values of the dotted component `idx` among names starting with `prefix`.
int count_distinct(const std::map<std::string, Shape>& s, const std::string& prefix, int idx) {
  std::set<std::string> seen;
  for (const auto& [k, v] : s) {
    if (!starts_with(k, prefix)) continue;
    size_t pos = 0;
    for (int i = 0; i < idx && pos != std::string::npos; ++i) {
      pos = k.find('.', pos);
      if (pos != std::string::npos) ++pos;
    }
    if (pos == std::string::npos) continue;
    seen.insert(k.substr(pos, k.find('.', pos) - pos));
  }
  return int(seen.size());
}

// Python's round(sqrt(n)) for the grid side.
int round_sqrt(int64_t n) { return int(std::nearbyint(std::sqrt(double(n)))); }

}  // namespace

ModelConfig derive_openai_config(const std::map<std::string, Shape>& s, const std::string& label) {
  ModelConfig c;
  c.name = label + " (architecture derived from tensor shapes)";
  VisionConfig v;
  v.activation = Activation::kQuickGelu;
  if (s.count("visual.proj")) {
    const Shape& conv = need(s, "visual.conv1.weight", label, 4);
    v.kind = VisionKind::kViT;
    v.width = int(conv[0]);
    int layers = 0;
    for (const auto& [k, sh] : s)
      if (starts_with(k, "visual.") && ends_with(k, ".attn.in_proj_weight")) ++layers;
    v.layers = layers;
    v.patch_size = int(conv[3]);
    const Shape& pos = need(s, "visual.positional_embedding", label, 2);
    const int grid = round_sqrt(pos[0] - 1);
    v.image_size = v.patch_size * grid;
    v.heads = v.width / 64;
    v.mlp_width = v.width * 4;
  } else {
    v.kind = VisionKind::kModifiedResNet;
    for (int b = 0; b < 4; ++b)
      v.resnet_layers[b] = count_distinct(s, "visual.layer" + std::to_string(b + 1) + ".", 2);
    v.layers = v.resnet_layers[0] + v.resnet_layers[1] + v.resnet_layers[2] + v.resnet_layers[3];
    v.width = int(need(s, "visual.layer1.0.conv1.weight", label, 4)[0]);
    const Shape& pos = need(s, "visual.attnpool.positional_embedding", label, 2);
    const int out = round_sqrt(pos[0] - 1);
    CLIPKIT_CHECK(int64_t(out) * out + 1 == pos[0], label,
                  ": visual.attnpool.positional_embedding has ", pos[0],
                  " rows, not a square grid plus one");
    v.image_size = out * 32;
    v.heads = v.width * 32 / 64;
    v.patch_size = 0;
    v.mlp_width = 0;
  }
  TextConfig t;
  t.activation = Activation::kQuickGelu;
  t.pooling = TextPooling::kArgmax;
  c.embed_dim = int(need(s, "text_projection", label, 2)[1]);
  t.context_length = int(need(s, "positional_embedding", label, 2)[0]);
  t.vocab_size = int(need(s, "token_embedding.weight", label, 2)[0]);
  t.width = int(need(s, "ln_final.weight", label, 1)[0]);
  t.heads = t.width / 64;
  t.layers = count_distinct(s, "transformer.resblocks.", 2);
  t.mlp_width = t.width * 4;
  CLIPKIT_CHECK(t.heads > 0, label, ": the text width ", t.width,
                " gives 0 heads by OpenAI's rule (width // 64); the head count of this model "
                "cannot be derived from its weights: give a config file or a preset (--arch)");
  CLIPKIT_CHECK(v.heads > 0, label, ": the vision width ", v.width,
                " gives 0 heads by OpenAI's rule; the head count of this model cannot be derived "
                "from its weights: give a config file or a preset (--arch)");
  c.text = t;
  c.vision = v;
  c.preprocess.profile = PreprocessProfile::kOpenAI;
  c.preprocess.size = c.preprocess.crop_size = v.image_size;
  validate_config(c);
  return c;
}

ModelConfig derive_text_config(const std::map<std::string, Shape>& s, bool hf_names,
                               const std::string& label) {
  ModelConfig c;
  c.name = label + " (text tower derived from tensor shapes)";
  TextConfig t;
  t.pooling = TextPooling::kArgmax;
  if (hf_names) {
    const Shape& tok = need(s, "text_model.embeddings.token_embedding.weight", label, 2);
    t.vocab_size = int(tok[0]);
    t.width = int(tok[1]);
    t.context_length = int(need(s, "text_model.embeddings.position_embedding.weight", label, 2)[0]);
    t.layers = count_distinct(s, "text_model.encoder.layers.", 3);
    t.mlp_width = int(need(s, "text_model.encoder.layers.0.mlp.fc1.weight", label, 2)[0]);
    t.activation = Activation::kQuickGelu;
    t.has_projection = s.count("text_projection.weight") != 0;
    if (t.has_projection) c.embed_dim = int(need(s, "text_projection.weight", label, 2)[0]);
  } else {
    const Shape& tok = need(s, "token_embedding.weight", label, 2);
    t.vocab_size = int(tok[0]);
    t.width = int(tok[1]);
    t.context_length = int(need(s, "positional_embedding", label, 2)[0]);
    t.layers = count_distinct(s, "transformer.resblocks.", 2);
    t.mlp_width = int(need(s, "transformer.resblocks.0.mlp.c_fc.weight", label, 2)[0]);
    t.activation = Activation::kGelu;
    t.has_projection = s.count("text_projection") != 0;
    if (t.has_projection) c.embed_dim = int(need(s, "text_projection", label, 2)[1]);
  }
  t.heads = t.width / 64;
  CLIPKIT_CHECK(t.heads > 0, label, ": the text width ", t.width,
                " gives 0 heads at 64 per head; this text tower's head count cannot be derived");
  c.text = t;
  validate_config(c);
  return c;
}

}  // namespace clipkit::io
