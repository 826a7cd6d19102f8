// Config files, presets and derivation from state-dict shapes.
#include <gtest/gtest.h>

#include "testing.h"

#include "core/error.h"
#include "core/mapped_file.h"
#include "io/config.h"
#include "io/name_map.h"
#include "io/presets.h"

using namespace clipkit;
using namespace clipkit::io;

using clipkit::test_util::error_of;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

// A valid open_clip_config.json with fields added or replaced: each extra is a JSON fragment
// (", \"key\": value") spliced in last, and the last duplicate key wins.
std::string open_clip_json(const std::string& vision_extra = "", const std::string& text_extra = "",
                           const std::string& model_extra = "") {
  return R"({"model_cfg": {"embed_dim": 24, "quick_gelu": true,
    "vision_cfg": {"image_size": 32, "layers": 3, "width": 48, "patch_size": 8, "head_width": 16)" +
         vision_extra + R"(},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 3)" +
         text_extra + "}" + model_extra + R"(},
    "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "interpolation": "bicubic", "resize_mode": "shortest"}})";
}

std::string hf_text_json(const std::string& extra = "") {
  return R"({"architectures": ["CLIPTextModel"], "model_type": "clip_text_model",
            "hidden_size": 32, "intermediate_size": 128, "num_attention_heads": 4,
            "num_hidden_layers": 4, "hidden_act": "quick_gelu", "eos_token_id": 2)" + extra + "}";
}

struct PresetExpect {
  const char* name;
  int embed, image, v_width, v_layers, v_heads, v_patch, v_mlp;
  std::array<int, 4> stages;
  int t_width, t_heads, t_layers;
  Activation act;
};

}  // namespace

// Published hyperparameters (OpenCLIP model_configs/*.json; OpenAI's released models).
TEST(Presets, ExactHyperparameters) {
  const auto Q = Activation::kQuickGelu, G = Activation::kGelu;
  const PresetExpect cases[] = {
      {"RN50", 1024, 224, 64, 16, 32, 0, 0, {3, 4, 6, 3}, 512, 8, 12, Q},
      {"RN101", 512, 224, 64, 33, 32, 0, 0, {3, 4, 23, 3}, 512, 8, 12, Q},
      {"RN50x4", 640, 288, 80, 26, 40, 0, 0, {4, 6, 10, 6}, 640, 10, 12, Q},
      {"RN50x16", 768, 384, 96, 40, 48, 0, 0, {6, 8, 18, 8}, 768, 12, 12, Q},
      {"RN50x64", 1024, 448, 128, 64, 64, 0, 0, {3, 15, 36, 10}, 1024, 16, 12, Q},
      {"ViT-B-32", 512, 224, 768, 12, 12, 32, 3072, {}, 512, 8, 12, Q},
      {"ViT-B-16", 512, 224, 768, 12, 12, 16, 3072, {}, 512, 8, 12, Q},
      {"ViT-L-14", 768, 224, 1024, 24, 16, 14, 4096, {}, 768, 12, 12, Q},
      {"ViT-L-14-336", 768, 336, 1024, 24, 16, 14, 4096, {}, 768, 12, 12, Q},
      {"ViT-H-14", 1024, 224, 1280, 32, 16, 14, 5120, {}, 1024, 16, 24, G},
      {"ViT-g-14", 1024, 224, 1408, 40, 16, 14, 6144, {}, 1024, 16, 24, G},
      {"ViT-bigG-14", 1280, 224, 1664, 48, 16, 14, 8192, {}, 1280, 20, 32, G},
      {"ViT-H-14-quickgelu", 1024, 224, 1280, 32, 16, 14, 5120, {}, 1024, 16, 24, Q},
      {"ViT-B-32-quickgelu", 512, 224, 768, 12, 12, 32, 3072, {}, 512, 8, 12, Q},
  };
  for (const auto& e : cases) {
    SCOPED_TRACE(e.name);
    const ModelConfig c = preset(e.name);
    EXPECT_EQ(c.embed_dim, e.embed);
    EXPECT_EQ(c.vision->image_size, e.image);
    EXPECT_EQ(c.vision->width, e.v_width);
    EXPECT_EQ(c.vision->heads, e.v_heads);
    EXPECT_EQ(c.vision->activation, e.act);
    if (e.v_patch) {
      EXPECT_EQ(c.vision->kind, VisionKind::kViT);
      EXPECT_EQ(c.vision->layers, e.v_layers);
      EXPECT_EQ(c.vision->patch_size, e.v_patch);
      EXPECT_EQ(c.vision->mlp_width, e.v_mlp);
    } else {
      EXPECT_EQ(c.vision->kind, VisionKind::kModifiedResNet);
      EXPECT_EQ(c.vision->resnet_layers, e.stages);
    }
    EXPECT_EQ(c.text->width, e.t_width);
    EXPECT_EQ(c.text->heads, e.t_heads);
    EXPECT_EQ(c.text->layers, e.t_layers);
    EXPECT_EQ(c.text->mlp_width, 4 * e.t_width);
    EXPECT_EQ(c.text->context_length, 77);
    EXPECT_EQ(c.text->vocab_size, 49408);
    EXPECT_EQ(c.text->activation, e.act);
    EXPECT_EQ(c.preprocess.size, e.image);
    EXPECT_EQ(c.preprocess.resample, "bicubic");
    EXPECT_FLOAT_EQ(c.preprocess.std[2], 0.27577711f);
  }
  EXPECT_EQ(preset_names().size(), 24u);
  EXPECT_FALSE(find_preset("ViT-X-99").has_value());
  EXPECT_ERROR(preset("ViT-X-99"), "known: RN50, RN101");
}

// OpenAI's build_model() rules applied to the shapes of the presets give the presets back.
TEST(Derive, FromStateDictShapesLikeBuildModel) {
  for (const char* name : {"RN50", "RN50x4", "RN101", "ViT-B-32", "ViT-B-16", "ViT-L-14-336"}) {
    SCOPED_TRACE(name);
    const ModelConfig p = preset(name);
    std::map<std::string, Shape> shapes;
    std::map<std::string, Shape> canon;
    for (auto& [n, s] : canonical_shapes(p)) canon[n] = s;
    for (const NameRule& r : openai_name_map(p)) {
      Shape s = canon.at(r.canonical[0]);
      if (r.op == MapOp::kTranspose) std::swap(s[0], s[1]);
      if (r.op == MapOp::kSplitRows) s[0] *= 3;
      shapes[r.file] = s;
    }
    const ModelConfig d = derive_openai_config(shapes, name);
    EXPECT_EQ(d.embed_dim, p.embed_dim);
    EXPECT_EQ(d.vision->kind, p.vision->kind);
    EXPECT_EQ(d.vision->image_size, p.vision->image_size);
    EXPECT_EQ(d.vision->width, p.vision->width);
    EXPECT_EQ(d.vision->heads, p.vision->heads);
    EXPECT_EQ(d.vision->layers, p.vision->layers);
    EXPECT_EQ(d.vision->patch_size, p.vision->patch_size);
    EXPECT_EQ(d.vision->resnet_layers, p.vision->resnet_layers);
    EXPECT_EQ(d.text->width, p.text->width);
    EXPECT_EQ(d.text->heads, p.text->heads);
    EXPECT_EQ(d.text->layers, p.text->layers);
    EXPECT_EQ(d.text->activation, Activation::kQuickGelu);
  }
  EXPECT_ERROR(derive_openai_config({{"visual.proj", {48, 24}}}, "x.pt"),
               "cannot derive the architecture without tensor 'visual.conv1.weight'");
}

TEST(OpenClipConfig, FixtureFiles) {
  const ModelConfig c = load_open_clip_config(kData + "/models/tiny_rn/open_clip_config.json");
  EXPECT_EQ(c.vision->kind, VisionKind::kModifiedResNet);
  EXPECT_EQ(c.vision->heads, 4);  // width 8 * 32 / head_width 64
  EXPECT_EQ(c.text->heads, 4);
  EXPECT_EQ(c.preprocess.resize_mode, ResizeMode::kShortest);
  // A bare model_cfg (open_clip's model_configs/*.json) parses the same way, with default preprocessing.
  const ModelConfig b = parse_open_clip_config(
      R"({"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32},
          "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}})",
      "ViT-B-32.json");
  EXPECT_EQ(b.vision->heads, 12);
  EXPECT_EQ(b.vision->activation, Activation::kGelu);  // no quick_gelu: OpenCLIP's GELU
  EXPECT_EQ(b.preprocess.size, 224);
  const ModelConfig p = parse_open_clip_config(open_clip_json(), "x.json");
  EXPECT_FLOAT_EQ(p.preprocess.mean[1], 0.5f);
  EXPECT_FLOAT_EQ(p.preprocess.std[0], 0.25f);
}

TEST(OpenClipConfig, BadConfigsAreNamedErrors) {
  EXPECT_ERROR(parse_open_clip_config("{", "bad.json"), "bad.json: not valid JSON");
  EXPECT_ERROR(parse_open_clip_config("[1]", "bad.json"), "must be a JSON object");
  EXPECT_ERROR(parse_open_clip_config(R"({"model_cfg": {"vision_cfg": {}, "text_cfg": {}}})", "m.json"),
               "m.json: model_cfg.embed_dim is missing");
  EXPECT_ERROR(parse_open_clip_config(open_clip_json(R"(, "width": "wide")"), "m.json"),
               "m.json: model_cfg.vision_cfg.width must be an integer, got a string");
  EXPECT_ERROR(parse_open_clip_config(
                   R"({"model_cfg": {"embed_dim": 24, "vision_cfg": {"image_size": 32, "layers": 3, "width": "wide", "patch_size": 8},
                       "text_cfg": {"width": 32, "heads": 4, "layers": 3}}})",
                   "m.json"),
               "model_cfg.vision_cfg.width must be an integer, got a string");
  EXPECT_ERROR(parse_open_clip_config(
                   R"({"model_cfg": {"embed_dim": 24, "vision_cfg": {"image_size": 32, "layers": 3, "width": 48, "patch_size": 8, "head_width": 16},
                       "text_cfg": {"width": 32, "heads": 5, "layers": 3}}})",
                   "m.json"),
               "text heads (5) do not divide the width (32)");
  EXPECT_ERROR(parse_open_clip_config(
                   R"({"model_cfg": {"embed_dim": 24, "vision_cfg": {"image_size": 32, "layers": 3, "width": 48, "patch_size": 8, "head_width": 20},
                       "text_cfg": {"width": 32, "heads": 4, "layers": 3}}})",
                   "m.json"),
               "head_width (20) does not divide the width 48");
  EXPECT_ERROR(parse_open_clip_config(
                   R"({"model_cfg": {"embed_dim": 24, "vision_cfg": {"image_size": 30, "layers": 3, "width": 48, "patch_size": 8, "head_width": 16},
                       "text_cfg": {"width": 32, "heads": 4, "layers": 3}}})",
                   "m.json"),
               "image_size 30 is not a multiple of patch_size 8");
  EXPECT_ERROR(parse_open_clip_config(
                   R"({"model_cfg": {"embed_dim": 24, "vision_cfg": {"image_size": 64, "layers": [1, 1, 1], "width": 8},
                       "text_cfg": {"width": 32, "heads": 4, "layers": 3}}})",
                   "m.json"),
               "must list 4 ResNet stages");
  EXPECT_ERROR(parse_open_clip_config(open_clip_json(R"(, "timm_model_name": "vit_base")"), "m.json"),
               "model_cfg.vision_cfg.timm_model_name = \"vit_base\": a timm vision tower is not supported");
  EXPECT_ERROR(parse_open_clip_config(open_clip_json("", R"(, "ls_init_value": 0.1)"), "m.json"),
               "layer scale is not supported");
  EXPECT_ERROR(parse_open_clip_config(open_clip_json("", R"(, "pool_type": "last")"), "m.json"),
               "text pool_type other than 'argmax'");
  EXPECT_ERROR(parse_open_clip_config(open_clip_json("", "", R"(, "custom_text": true)"), "m.json"),
               "custom_text");
  EXPECT_ERROR(parse_open_clip_config(open_clip_json("", R"(, "norm_kwargs": {"elementwise_affine": false})"), "m.json"),
               "only eps is supported");
  EXPECT_ERROR(parse_open_clip_config(open_clip_json(R"(, "image_size": [32, 48])"), "m.json"),
               "model_cfg.vision_cfg.image_size must be an integer or a square [h, w] pair");
  EXPECT_EQ(parse_open_clip_config(open_clip_json(R"(, "image_size": [32, 32])"), "m").vision->image_size, 32);
  EXPECT_ERROR(parse_open_clip_config(open_clip_json(R"(, "layers": 0)"), "m.json"), "vision layers must be positive");
  // Python-style integral floats are accepted, fractional ones are not.
  EXPECT_EQ(parse_open_clip_config(open_clip_json(), "x").text->width, 32);
  EXPECT_ERROR(parse_open_clip_config(
                   R"({"model_cfg": {"embed_dim": 24.5, "vision_cfg": {"image_size": 32, "layers": 3, "width": 48, "patch_size": 8},
                       "text_cfg": {"width": 32, "heads": 4, "layers": 3}}})",
                   "m.json"),
               "model_cfg.embed_dim must be an integer, got 24.5");
}

TEST(OpenClipConfig, SerialisationRoundTrips) {
  for (const std::string& name : preset_names()) {
    SCOPED_TRACE(name);
    const ModelConfig p = preset(name);
    const ModelConfig q = parse_open_clip_config(open_clip_config_json(p), "rt");
    EXPECT_EQ(q.vision->mlp_width, p.vision->mlp_width);
    EXPECT_EQ(q.vision->heads, p.vision->heads);
    EXPECT_EQ(q.text->heads, p.text->heads);
    EXPECT_EQ(q.text->activation, p.text->activation);
    EXPECT_EQ(q.embed_dim, p.embed_dim);
    EXPECT_EQ(q.preprocess.mean, p.preprocess.mean);
    if (p.vision->kind == VisionKind::kViT) {
      const ModelConfig h = parse_hf_config(hf_config_json(p), "rt");
      EXPECT_EQ(h.vision->mlp_width, p.vision->mlp_width);
      EXPECT_EQ(h.text->heads, p.text->heads);
      EXPECT_EQ(h.vision->activation, p.vision->activation);
      EXPECT_EQ(h.embed_dim, p.embed_dim);
    }
  }
}

TEST(HfConfig, Fields) {
  const ModelConfig l = parse_hf_config(read_file(kData + "/hf/hf_tiny_laion/config.json"), "laion");
  EXPECT_EQ(l.text->pooling, TextPooling::kFirstEot);
  EXPECT_EQ(l.text->eot_token_id, 49407);
  EXPECT_EQ(l.embed_dim, 24);  // top-level projection_dim, not text_config's 512
  EXPECT_DOUBLE_EQ(l.logit_scale_init, 3.1);
  EXPECT_EQ(l.preprocess.profile, PreprocessProfile::kHF);
  EXPECT_EQ(l.preprocess.size, 48);
  const ModelConfig t = parse_hf_config(hf_text_json(), "t");
  EXPECT_FALSE(t.vision);
  EXPECT_FALSE(t.text->has_projection);
  EXPECT_EQ(t.text->pooling, TextPooling::kArgmax);
  // Without "architectures", the weights decide whether there is a projection.
  const std::string no_arch = R"({"model_type": "clip_text_model", "hidden_size": 32, "intermediate_size": 128,
      "num_attention_heads": 4, "num_hidden_layers": 4, "projection_dim": 16})";
  EXPECT_TRUE(parse_hf_config(no_arch, "t", true).text->has_projection);
  EXPECT_EQ(parse_hf_config(no_arch, "t", true).embed_dim, 16);
  EXPECT_FALSE(parse_hf_config(no_arch, "t", false).text->has_projection);
  // transformers' defaults: quick_gelu, eps 1e-5, eos 49407 (first-EOT pooling).
  EXPECT_EQ(parse_hf_config(no_arch, "t").text->activation, Activation::kQuickGelu);
  EXPECT_EQ(parse_hf_config(no_arch, "t").text->pooling, TextPooling::kFirstEot);
  EXPECT_DOUBLE_EQ(parse_hf_config(hf_text_json(R"(, "layer_norm_eps": 1e-6)"), "t").text->ln_eps, 1e-6);
}

TEST(HfConfig, BadConfigsAreNamedErrors) {
  EXPECT_ERROR(parse_hf_config(R"({"model_type": "clip_text_model", "hidden_size": 32})", "c.json"),
               "c.json: num_hidden_layers is missing");
  EXPECT_ERROR(parse_hf_config(hf_text_json(R"(, "hidden_act": "relu")"), "c.json"),
               "c.json: hidden_act = 'relu' is not supported");
  EXPECT_ERROR(parse_hf_config(R"({"model_type": "bert"})", "c.json"), "is not a CLIP model");
  EXPECT_ERROR(parse_hf_config(R"({"model_type": "clip", "text_config": {}})", "c.json"),
               "c.json: text_config.hidden_size is missing");
  EXPECT_ERROR(parse_hf_config(R"({"model_type": "clip_text_model", "hidden_size": 30, "intermediate_size": 128,
      "num_attention_heads": 4, "num_hidden_layers": 4})", "c.json"),
               "text heads (4) do not divide the width (30)");
  EXPECT_ERROR(parse_hf_config(R"({"model_type": "clip_text_model", "hidden_size": true, "intermediate_size": 128,
      "num_attention_heads": 4, "num_hidden_layers": 4})", "c.json"),
               "c.json: hidden_size must be an integer, got a boolean");
  EXPECT_ERROR(parse_hf_config(R"({"model_type": "clip_vision_model", "hidden_size": 48, "intermediate_size": 128,
      "num_attention_heads": 4, "num_hidden_layers": 4, "image_size": 32, "patch_size": 8, "num_channels": 1})", "c.json"),
               "only RGB");
  EXPECT_ERROR(parse_hf_config(R"({"model_type": "clip_text_model", "hidden_size": 32, "intermediate_size": 0,
      "num_attention_heads": 4, "num_hidden_layers": 4})", "c.json"),
               "text mlp_width must be positive");
}

TEST(HfConfig, PreprocessorConfig) {
  PreprocessConfig base;
  const PreprocessConfig p = parse_hf_preprocessor_config(
      R"({"crop_size": {"height": 336, "width": 336}, "do_center_crop": true, "do_normalize": true,
          "do_resize": true, "image_mean": [0.5, 0.4, 0.3], "image_std": [0.2, 0.3, 0.4],
          "resample": 2, "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 336}})",
      "pp.json", base);
  EXPECT_EQ(p.profile, PreprocessProfile::kHF);
  EXPECT_EQ(p.size, 336);
  EXPECT_EQ(p.crop_size, 336);
  EXPECT_EQ(p.resample, "bilinear");
  EXPECT_EQ(p.resize_mode, ResizeMode::kShortest);
  EXPECT_FLOAT_EQ(p.mean[1], 0.4f);
  EXPECT_FLOAT_EQ(p.std[2], 0.4f);
  // Older files write plain integers.
  const PreprocessConfig q = parse_hf_preprocessor_config(R"({"size": 224, "crop_size": 224})", "pp.json", base);
  EXPECT_EQ(q.size, 224);
  EXPECT_EQ(q.resample, "bicubic");
  const PreprocessConfig s = parse_hf_preprocessor_config(R"({"size": {"height": 256, "width": 256}})", "pp.json", base);
  EXPECT_EQ(s.resize_mode, ResizeMode::kSquash);
  EXPECT_ERROR(parse_hf_preprocessor_config(R"({"resample": 9})", "pp.json", base), "pp.json: resample = 9");
  EXPECT_ERROR(parse_hf_preprocessor_config(R"({"image_mean": [0.5]})", "pp.json", base), "must have 3 values");
  EXPECT_ERROR(parse_hf_preprocessor_config(R"({"do_center_crop": false})", "pp.json", base), "do_center_crop");
}
