// The preset table. Numbers are OpenCLIP's model_configs/*.json: heads = width / head_width
// (ViT), width * 32 / head_width (ResNet attention pool, head_width 64), MLP width =
// int(width * mlp_ratio).
#include "io/presets.h"

#include "core/error.h"

namespace clipkit::io {

namespace {

struct PresetRow {
  const char* name;
  int embed_dim;
  int image_size;
  // vision: ViT when patch > 0, else ModifiedResNet with `stages`
  int v_width, v_layers, v_head_width, v_patch;
  double v_mlp_ratio;
  std::array<int, 4> stages;
  int t_width, t_heads, t_layers;
  bool quick_gelu;
};

// clang-format off
const PresetRow kPresets[] = {
  // name            embed img  width lay hw  patch mlp      stages           text w/h/l    quick
  {"RN50",           1024, 224,   64,  0, 64,  0, 0,      {3, 4, 6, 3},     512,  8, 12, true},
  {"RN101",           512, 224,   64,  0, 64,  0, 0,      {3, 4, 23, 3},    512,  8, 12, true},
  {"RN50x4",          640, 288,   80,  0, 64,  0, 0,      {4, 6, 10, 6},    640, 10, 12, true},
  {"RN50x16",         768, 384,   96,  0, 64,  0, 0,      {6, 8, 18, 8},    768, 12, 12, true},
  {"RN50x64",        1024, 448,  128,  0, 64,  0, 0,      {3, 15, 36, 10}, 1024, 16, 12, true},
  {"ViT-B-32",        512, 224,  768, 12, 64, 32, 4.0,    {0, 0, 0, 0},     512,  8, 12, true},
  {"ViT-B-16",        512, 224,  768, 12, 64, 16, 4.0,    {0, 0, 0, 0},     512,  8, 12, true},
  {"ViT-L-14",        768, 224, 1024, 24, 64, 14, 4.0,    {0, 0, 0, 0},     768, 12, 12, true},
  {"ViT-L-14-336",    768, 336, 1024, 24, 64, 14, 4.0,    {0, 0, 0, 0},     768, 12, 12, true},
  {"ViT-H-14",       1024, 224, 1280, 32, 80, 14, 4.0,    {0, 0, 0, 0},    1024, 16, 24, false},
  {"ViT-g-14",       1024, 224, 1408, 40, 88, 14, 4.3637, {0, 0, 0, 0},    1024, 16, 24, false},
  {"ViT-bigG-14",    1280, 224, 1664, 48, 104, 14, 4.9231, {0, 0, 0, 0},   1280, 20, 32, false},
};
// clang-format on

ModelConfig build(const PresetRow& r, bool quick, const std::string& name) {
  const Activation act = quick ? Activation::kQuickGelu : Activation::kGelu;
  ModelConfig c;
  c.name = name;
  c.embed_dim = r.embed_dim;
  VisionConfig v;
  v.image_size = r.image_size;
  v.width = r.v_width;
  v.activation = act;
  if (r.v_patch > 0) {
    v.kind = VisionKind::kViT;
    v.layers = r.v_layers;
    v.patch_size = r.v_patch;
    v.heads = r.v_width / r.v_head_width;
    v.mlp_width = int(double(r.v_width) * r.v_mlp_ratio);
  } else {
    v.kind = VisionKind::kModifiedResNet;
    v.resnet_layers = r.stages;
    v.layers = r.stages[0] + r.stages[1] + r.stages[2] + r.stages[3];
    v.heads = r.v_width * 32 / r.v_head_width;
    v.patch_size = 0;
    v.mlp_width = 0;
  }
  TextConfig t;
  t.width = r.t_width;
  t.heads = r.t_heads;
  t.layers = r.t_layers;
  t.mlp_width = r.t_width * 4;
  t.activation = act;
  t.pooling = TextPooling::kArgmax;
  c.text = t;
  c.vision = v;
  c.preprocess.profile = PreprocessProfile::kOpenAI;
  c.preprocess.size = c.preprocess.crop_size = r.image_size;
  validate_config(c);
  return c;
}

const std::string kQuickSuffix = "-quickgelu";

}  // namespace

std::optional<ModelConfig> find_preset(const std::string& name) {
  std::string base = name;
  bool forced_quick = false;
  if (base.size() > kQuickSuffix.size() &&
      base.compare(base.size() - kQuickSuffix.size(), kQuickSuffix.size(), kQuickSuffix) == 0) {
    base.resize(base.size() - kQuickSuffix.size());
    forced_quick = true;
  }
  for (const PresetRow& r : kPresets)
    if (base == r.name) return build(r, forced_quick || r.quick_gelu, name);
  return std::nullopt;
}

ModelConfig preset(const std::string& name) {
  if (auto c = find_preset(name)) return *c;
  std::string known;
  for (const PresetRow& r : kPresets) known += std::string(known.empty() ? "" : ", ") + r.name;
  fail("unknown architecture preset '", name, "' (known: ", known,
       "; each also with the suffix -quickgelu)");
}

std::vector<std::string> preset_names() {
  std::vector<std::string> out;
  for (const PresetRow& r : kPresets) out.push_back(r.name);
  for (const PresetRow& r : kPresets) out.push_back(std::string(r.name) + kQuickSuffix);
  return out;
}

}  // namespace clipkit::io
