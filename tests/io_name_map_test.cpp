// The name maps both ways: each layout's map covers exactly the fixture files' tensors and the
// canonical parameters, and the reverse maps give the names CANONICAL.md lists.
#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "core/mapped_file.h"
#include "io/config.h"
#include "io/name_map.h"
#include "io/presets.h"
#include "io/safetensors.h"

using namespace clipkit;
using namespace clipkit::io;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

std::set<std::string> file_names(const std::string& path) {
  SafetensorsFile f = SafetensorsFile::open(path);
  return {f.names().begin(), f.names().end()};
}

// Checks that `rules` use each file name once, produce each canonical name once, and that the
// canonical names are exactly those of the architecture.
std::set<std::string> check_rules(const std::vector<NameRule>& rules, const ModelConfig& c) {
  std::set<std::string> files, canon;
  for (const NameRule& r : rules) {
    EXPECT_TRUE(files.insert(r.file).second) << "file name twice: " << r.file;
    EXPECT_EQ(r.canonical.size(), r.op == MapOp::kSplitRows ? 3u : 1u) << r.file;
    for (const auto& cn : r.canonical) EXPECT_TRUE(canon.insert(cn).second) << "canonical twice: " << cn;
  }
  std::set<std::string> expect;
  for (const auto& [n, s] : canonical_shapes(c)) EXPECT_TRUE(expect.insert(n).second) << n;
  EXPECT_EQ(canon, expect);
  return files;
}

}  // namespace

TEST(NameMap, OpenAIViTCoversTheFixtureFile) {
  const ModelConfig c = load_open_clip_config(kData + "/models/tiny_vit/open_clip_config.json");
  EXPECT_EQ(check_rules(openai_name_map(c), c), file_names(kData + "/models/tiny_vit/open_clip_model.safetensors"));
}

TEST(NameMap, OpenAIResNetCoversTheFixtureFile) {
  const ModelConfig c = load_open_clip_config(kData + "/models/tiny_rn/open_clip_config.json");
  EXPECT_EQ(check_rules(openai_name_map(c), c), file_names(kData + "/models/tiny_rn/open_clip_model.safetensors"));
}

TEST(NameMap, TransformersCoverTheFixtureFiles) {
  for (const char* m : {"hf_tiny_openai", "hf_tiny_laion"}) {
    const std::string dir = kData + "/hf/" + m;
    const ModelConfig c = parse_hf_config(read_file(dir + "/config.json"), m);
    EXPECT_EQ(check_rules(hf_name_map(c), c), file_names(dir + "/model.safetensors")) << m;
  }
  const std::string te = kData + "/hf/hf_tiny_sdxl/text_encoder";
  const ModelConfig c1 = parse_hf_config(read_file(te + "/config.json"), "te");
  HfPrefixes none;
  none.text = none.vision = "";
  EXPECT_EQ(check_rules(hf_name_map(c1, none), c1), file_names(te + "/model.safetensors"));
  const std::string te2 = kData + "/hf/hf_tiny_sdxl/text_encoder_2";
  const ModelConfig c2 = parse_hf_config(read_file(te2 + "/config.json"), "te2");
  EXPECT_EQ(check_rules(hf_name_map(c2), c2), file_names(te2 + "/model.safetensors"));
}

TEST(NameMap, ReverseMapsMatchCanonicalMd) {
  const ModelConfig c = preset("ViT-B-32");
  const auto oa = canonical_to_openai(c);
  const auto hf = canonical_to_hf(c);
  EXPECT_EQ(oa.size(), canonical_shapes(c).size());
  EXPECT_EQ(hf.size(), canonical_shapes(c).size());
  const std::pair<const char*, std::pair<const char*, const char*>> rows[] = {
      {"text.token_embedding", {"token_embedding.weight", "text_model.embeddings.token_embedding.weight"}},
      {"text.positional_embedding", {"positional_embedding", "text_model.embeddings.position_embedding.weight"}},
      {"text.blocks.3.ln_1.bias", {"transformer.resblocks.3.ln_1.bias", "text_model.encoder.layers.3.layer_norm1.bias"}},
      {"text.blocks.0.attn.q_proj.weight", {"transformer.resblocks.0.attn.in_proj_weight", "text_model.encoder.layers.0.self_attn.q_proj.weight"}},
      {"text.blocks.0.attn.v_proj.bias", {"transformer.resblocks.0.attn.in_proj_bias", "text_model.encoder.layers.0.self_attn.v_proj.bias"}},
      {"text.blocks.11.attn.out_proj.weight", {"transformer.resblocks.11.attn.out_proj.weight", "text_model.encoder.layers.11.self_attn.out_proj.weight"}},
      {"text.blocks.5.ln_2.weight", {"transformer.resblocks.5.ln_2.weight", "text_model.encoder.layers.5.layer_norm2.weight"}},
      {"text.blocks.5.mlp.fc1.weight", {"transformer.resblocks.5.mlp.c_fc.weight", "text_model.encoder.layers.5.mlp.fc1.weight"}},
      {"text.blocks.5.mlp.fc2.bias", {"transformer.resblocks.5.mlp.c_proj.bias", "text_model.encoder.layers.5.mlp.fc2.bias"}},
      {"text.ln_final.weight", {"ln_final.weight", "text_model.final_layer_norm.weight"}},
      {"text.projection", {"text_projection", "text_projection.weight"}},
      {"vision.patch_embed", {"visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight"}},
      {"vision.class_embedding", {"visual.class_embedding", "vision_model.embeddings.class_embedding"}},
      {"vision.positional_embedding", {"visual.positional_embedding", "vision_model.embeddings.position_embedding.weight"}},
      {"vision.ln_pre.bias", {"visual.ln_pre.bias", "vision_model.pre_layrnorm.bias"}},
      {"vision.blocks.7.attn.k_proj.weight", {"visual.transformer.resblocks.7.attn.in_proj_weight", "vision_model.encoder.layers.7.self_attn.k_proj.weight"}},
      {"vision.ln_post.weight", {"visual.ln_post.weight", "vision_model.post_layernorm.weight"}},
      {"vision.projection", {"visual.proj", "visual_projection.weight"}},
      {"logit_scale", {"logit_scale", "logit_scale"}},
  };
  for (const auto& [canon, names] : rows) {
    EXPECT_EQ(oa.at(canon), names.first) << canon;
    EXPECT_EQ(hf.at(canon), names.second) << canon;
  }
  const auto rn = canonical_to_openai(preset("RN50"));
  EXPECT_EQ(rn.at("vision.stem.conv2.weight"), "visual.conv2.weight");
  EXPECT_EQ(rn.at("vision.stem.bn3.running_mean"), "visual.bn3.running_mean");
  EXPECT_EQ(rn.at("vision.layer3.5.bn2.weight"), "visual.layer3.5.bn2.weight");
  EXPECT_EQ(rn.at("vision.layer2.0.downsample.conv.weight"), "visual.layer2.0.downsample.0.weight");
  EXPECT_EQ(rn.at("vision.layer2.0.downsample.bn.bias"), "visual.layer2.0.downsample.1.bias");
  EXPECT_EQ(rn.count("vision.layer2.1.downsample.conv.weight"), 0u);
  EXPECT_EQ(rn.at("vision.attnpool.c_proj.bias"), "visual.attnpool.c_proj.bias");
  EXPECT_THROW(canonical_to_hf(preset("RN50")), Error);
}

TEST(NameMap, PresetShapes) {
  // ViT-L-14: 24 vision and 12 text blocks of 16 tensors each, 8 + 5 tower tensors, logit_scale.
  const auto s = canonical_shapes(preset("ViT-L-14"));
  EXPECT_EQ(s.size(), size_t(24 * 16 + 12 * 16 + 8 + 5 + 1));
  std::map<std::string, Shape> m(s.begin(), s.end());
  EXPECT_EQ(m.at("vision.positional_embedding"), (Shape{257, 1024}));
  EXPECT_EQ(m.at("vision.patch_embed"), (Shape{1024, 3, 14, 14}));
  EXPECT_EQ(m.at("text.projection"), (Shape{768, 768}));
  EXPECT_EQ(m.at("vision.blocks.0.mlp.fc1.weight"), (Shape{4096, 1024}));
  const auto r = canonical_shapes(preset("RN50"));
  std::map<std::string, Shape> rm(r.begin(), r.end());
  EXPECT_EQ(rm.at("vision.attnpool.positional_embedding"), (Shape{50, 2048}));
  EXPECT_EQ(rm.at("vision.attnpool.c_proj.weight"), (Shape{1024, 2048}));
  EXPECT_EQ(rm.at("vision.layer4.2.conv3.weight"), (Shape{2048, 512, 1, 1}));
  EXPECT_EQ(rm.at("vision.layer1.0.downsample.conv.weight"), (Shape{256, 64, 1, 1}));
}
