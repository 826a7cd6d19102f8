// Loading the fixture models in every layout onto canonical names: architecture, shapes, views.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/name_map.h"
#include "io/safetensors.h"

using namespace clipkit;
using namespace clipkit::io;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

int64_t file_numel(const std::string& path) {
  SafetensorsFile f = SafetensorsFile::open(path);
  int64_t n = 0;
  for (const auto& name : f.names()) n += f.get(name).numel();
  return n;
}

// Element (i, j) of a 2-D tensor of any float dtype, through its strides.
float at2(const Tensor& t, int64_t i, int64_t j) {
  const int64_t off = i * t.strides()[0] + j * t.strides()[1];
  switch (t.dtype()) {
    case DType::F32: return t.data<float>()[off];
    case DType::F16: return f16_to_f32(t.data<uint16_t>()[off]);
    case DType::BF16: return bf16_to_f32(t.data<uint16_t>()[off]);
    default: ADD_FAILURE() << "dtype"; return 0;
  }
}

}  // namespace

TEST(Checkpoint, OpenClipVitFolder) {
  const std::string dir = kData + "/models/tiny_vit";
  Checkpoint ck = load_checkpoint(dir);
  EXPECT_EQ(ck.layout, Layout::kOpenAI);
  const ModelConfig& c = ck.config;
  ASSERT_TRUE(c.text && c.vision);
  EXPECT_EQ(c.embed_dim, 24);
  EXPECT_EQ(c.text->width, 32);
  EXPECT_EQ(c.text->heads, 4);
  EXPECT_EQ(c.text->layers, 3);
  EXPECT_EQ(c.text->mlp_width, 128);
  EXPECT_EQ(c.text->context_length, 77);
  EXPECT_EQ(c.text->vocab_size, 49408);
  EXPECT_EQ(c.text->activation, Activation::kQuickGelu);
  EXPECT_EQ(c.text->pooling, TextPooling::kArgmax);
  EXPECT_EQ(c.vision->kind, VisionKind::kViT);
  EXPECT_EQ(c.vision->width, 48);
  EXPECT_EQ(c.vision->heads, 3);
  EXPECT_EQ(c.vision->layers, 3);
  EXPECT_EQ(c.vision->patch_size, 8);
  EXPECT_EQ(c.vision->image_size, 32);
  EXPECT_EQ(c.vision->mlp_width, 192);
  EXPECT_EQ(c.preprocess.size, 32);
  EXPECT_EQ(c.preprocess.resample, "bicubic");
  EXPECT_FLOAT_EQ(c.preprocess.mean[0], 0.48145466f);
  EXPECT_EQ(ck.parameter_count(), 1718705);  // tests/data/README.md
  EXPECT_EQ(ck.params.size(), canonical_shapes(c).size());

  // Views, not copies: q/k/v are consecutive row blocks of one in_proj_weight, projections are
  // transposed views; the values are the file's.
  SafetensorsFile f = SafetensorsFile::open(dir + "/open_clip_model.safetensors");
  const Tensor& in_proj = f.get("transformer.resblocks.1.attn.in_proj_weight");
  const Tensor& q = ck.param("text.blocks.1.attn.q_proj.weight");
  const Tensor& k = ck.param("text.blocks.1.attn.k_proj.weight");
  const Tensor& v = ck.param("text.blocks.1.attn.v_proj.weight");
  EXPECT_EQ(k.shape(), (Shape{32, 32}));
  EXPECT_EQ(k.data<float>(), q.data<float>() + 32 * 32);
  EXPECT_EQ(v.data<float>(), q.data<float>() + 64 * 32);
  for (int i = 0; i < 32; ++i)
    for (int j = 0; j < 32; ++j) ASSERT_EQ(at2(k, i, j), at2(in_proj, 32 + i, j));
  EXPECT_EQ(ck.param("text.blocks.1.attn.v_proj.bias").data<float>()[3],
            f.get("transformer.resblocks.1.attn.in_proj_bias").data<float>()[67]);
  const Tensor& proj = ck.param("vision.projection");
  EXPECT_EQ(proj.shape(), (Shape{24, 48}));
  EXPECT_EQ(proj.strides(), (Shape{1, 24}));
  EXPECT_FALSE(proj.is_contiguous());
  EXPECT_EQ(at2(proj, 5, 7), at2(f.get("visual.proj"), 7, 5));
  EXPECT_EQ(at2(proj, 23, 47), at2(f.get("visual.proj"), 47, 23));
  EXPECT_EQ(ck.param("text.projection").shape(), (Shape{24, 32}));
  EXPECT_EQ(ck.param("logit_scale").shape(), Shape{});
  EXPECT_FLOAT_EQ(*ck.param("logit_scale").data<float>(), 3.0f);
  EXPECT_EQ(ck.param("vision.patch_embed").shape(), (Shape{48, 3, 8, 8}));
  EXPECT_EQ(ck.param("vision.positional_embedding").shape(), (Shape{17, 48}));
  EXPECT_THROW(ck.param("no.such"), Error);
}

TEST(Checkpoint, OpenClipVitFp16Folder) {
  Checkpoint ck = load_checkpoint(kData + "/models/tiny_vit_fp16");
  EXPECT_EQ(ck.parameter_count(), 1718705);
  for (const auto& [n, t] : ck.params) EXPECT_EQ(t.dtype(), DType::F16) << n;
  EXPECT_EQ(ck.config.vision->heads, 3);
}

TEST(Checkpoint, OpenClipResNetFolder) {
  Checkpoint ck = load_checkpoint(kData + "/models/tiny_rn");
  const ModelConfig& c = ck.config;
  ASSERT_TRUE(c.vision);
  EXPECT_EQ(c.vision->kind, VisionKind::kModifiedResNet);
  EXPECT_EQ(c.vision->resnet_layers, (std::array<int, 4>{1, 1, 1, 1}));
  EXPECT_EQ(c.vision->width, 8);
  EXPECT_EQ(c.vision->heads, 4);
  EXPECT_EQ(c.vision->image_size, 64);
  EXPECT_EQ(c.text->heads, 4);
  EXPECT_EQ(ck.parameter_count(), 1955061);  // README: parameters, without BatchNorm statistics
  EXPECT_EQ(ck.param("vision.stem.conv1.weight").shape(), (Shape{4, 3, 3, 3}));
  EXPECT_EQ(ck.param("vision.layer4.0.downsample.conv.weight").shape(), (Shape{256, 128, 1, 1}));
  EXPECT_EQ(ck.param("vision.layer2.0.downsample.bn.running_var").shape(), (Shape{64}));
  EXPECT_EQ(ck.param("vision.attnpool.positional_embedding").shape(), (Shape{5, 256}));
  EXPECT_EQ(ck.param("vision.attnpool.c_proj.weight").shape(), (Shape{24, 256}));
}

TEST(Checkpoint, TransformersOpenAIStyle) {
  const std::string dir = kData + "/hf/hf_tiny_openai";
  Checkpoint ck = load_checkpoint(dir);
  EXPECT_EQ(ck.layout, Layout::kHF);
  const ModelConfig& c = ck.config;
  ASSERT_TRUE(c.text && c.vision);
  EXPECT_EQ(c.embed_dim, 24);
  EXPECT_EQ(c.text->pooling, TextPooling::kArgmax);  // eos_token_id 2
  EXPECT_EQ(c.text->activation, Activation::kQuickGelu);
  EXPECT_EQ(c.text->mlp_width, 128);
  EXPECT_EQ(c.vision->heads, 4);
  EXPECT_EQ(c.vision->mlp_width, 192);
  EXPECT_EQ(c.preprocess.profile, PreprocessProfile::kHF);
  EXPECT_EQ(c.preprocess.size, 32);
  EXPECT_EQ(ck.parameter_count(), file_numel(dir + "/model.safetensors"));
  SafetensorsFile f = SafetensorsFile::open(dir + "/model.safetensors");
  EXPECT_EQ(at2(ck.param("vision.blocks.2.attn.k_proj.weight"), 3, 4),
            at2(f.get("vision_model.encoder.layers.2.self_attn.k_proj.weight"), 3, 4));
  EXPECT_EQ(at2(ck.param("text.projection"), 20, 30), at2(f.get("text_projection.weight"), 20, 30));
  EXPECT_EQ(ck.param("text.projection").shape(), (Shape{24, 32}));
}

TEST(Checkpoint, TransformersLaionStyle) {
  const std::string dir = kData + "/hf/hf_tiny_laion";
  Checkpoint ck = load_checkpoint(dir);
  const ModelConfig& c = ck.config;
  EXPECT_EQ(c.text->pooling, TextPooling::kFirstEot);
  EXPECT_EQ(c.text->eot_token_id, 49407);
  EXPECT_EQ(c.text->activation, Activation::kGelu);
  EXPECT_EQ(c.vision->activation, Activation::kGelu);
  EXPECT_EQ(c.vision->image_size, 48);
  EXPECT_EQ(c.vision->patch_size, 16);
  EXPECT_EQ(c.text->width, 40);
  EXPECT_EQ(ck.param("vision.positional_embedding").shape(), (Shape{10, 64}));
  EXPECT_EQ(ck.parameter_count(), file_numel(dir + "/model.safetensors"));
  for (const auto& [n, t] : ck.params) EXPECT_EQ(t.dtype(), DType::F16) << n;
}

TEST(Checkpoint, DiffusersTextEncoders) {
  // transformers 5 CLIPTextModel: no text_model. prefix.
  Checkpoint e1 = load_checkpoint(kData + "/hf/hf_tiny_sdxl/text_encoder");
  EXPECT_EQ(e1.layout, Layout::kDiffusers);
  ASSERT_TRUE(e1.config.text);
  EXPECT_FALSE(e1.config.vision);
  EXPECT_FALSE(e1.config.text->has_projection);
  EXPECT_EQ(e1.config.text->layers, 4);
  EXPECT_EQ(e1.config.text->width, 32);
  EXPECT_EQ(e1.config.text->activation, Activation::kQuickGelu);
  EXPECT_EQ(e1.config.text->pooling, TextPooling::kArgmax);
  EXPECT_EQ(e1.params.count("logit_scale"), 0u);
  EXPECT_EQ(e1.params.count("text.projection"), 0u);
  EXPECT_EQ(e1.parameter_count(), file_numel(kData + "/hf/hf_tiny_sdxl/text_encoder/model.safetensors"));
  // transformers 4 naming with projection.
  Checkpoint e2 = load_checkpoint(kData + "/hf/hf_tiny_sdxl/text_encoder_2");
  EXPECT_EQ(e2.layout, Layout::kDiffusers);
  EXPECT_TRUE(e2.config.text->has_projection);
  EXPECT_EQ(e2.config.embed_dim, 48);
  EXPECT_EQ(e2.config.text->activation, Activation::kGelu);
  EXPECT_EQ(e2.param("text.projection").shape(), (Shape{48, 48}));
  EXPECT_EQ(e2.parameter_count(), file_numel(kData + "/hf/hf_tiny_sdxl/text_encoder_2/model.safetensors"));
}

TEST(Checkpoint, WeightsFileNextToItsConfig) {
  Checkpoint ck = load_checkpoint(kData + "/models/tiny_vit/open_clip_model.safetensors");
  EXPECT_EQ(ck.config.vision->heads, 3);
  Checkpoint hf = load_checkpoint(kData + "/hf/hf_tiny_openai/model.safetensors");
  EXPECT_EQ(hf.layout, Layout::kHF);
}

TEST(Checkpoint, DetectLayout) {
  EXPECT_EQ(detect_layout({"visual.proj", "token_embedding.weight"}), Layout::kOpenAI);
  EXPECT_EQ(detect_layout({"text_model.final_layer_norm.weight"}), Layout::kHF);
  EXPECT_EQ(detect_layout({"embeddings.token_embedding.weight"}), Layout::kHF);
  EXPECT_EQ(detect_layout({"model.visual.proj"}), std::nullopt);
  EXPECT_EQ(detect_layout({}), std::nullopt);
}

TEST(Checkpoint, MissingPathIsAnError) {
  try {
    load_checkpoint(kData + "/no/such/model");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
}

TEST(Checkpoint, ShardedTransformersFolder) {
  namespace fs = std::filesystem;
  const std::string src = kData + "/hf/hf_tiny_openai";
  const fs::path dir = fs::path(::testing::TempDir()) / "io_sharded";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(src + "/config.json", dir / "config.json");
  SafetensorsFile f = SafetensorsFile::open(src + "/model.safetensors");
  std::vector<std::pair<std::string, Tensor>> a, b;
  std::string index = R"({"metadata": {"total_size": 0}, "weight_map": {)";
  for (size_t i = 0; i < f.names().size(); ++i) {
    const std::string& n = f.names()[i];
    const bool first = n.rfind("text_model.", 0) == 0;
    (first ? a : b).emplace_back(n, f.get(n));
    index += std::string(i ? ", " : "") + "\"" + n + "\": \"model-0000" + (first ? "1" : "2") + "-of-00002.safetensors\"";
  }
  index += "}}";
  write_safetensors((dir / "model-00001-of-00002.safetensors").string(), a);
  write_safetensors((dir / "model-00002-of-00002.safetensors").string(), b);
  {
    std::ofstream(dir / "model.safetensors.index.json") << index;
  }
  Checkpoint sharded = load_checkpoint(dir.string());
  Checkpoint whole = load_checkpoint(src);
  EXPECT_EQ(sharded.weight_files.size(), 2u);
  ASSERT_EQ(sharded.params.size(), whole.params.size());
  for (const auto& [n, t] : whole.params) {
    const Tensor& u = sharded.param(n);
    ASSERT_EQ(u.shape(), t.shape()) << n;
    EXPECT_EQ(std::memcmp(u.contiguous().raw(), t.contiguous().raw(), t.nbytes()), 0) << n;
  }
  // An index that points a tensor at the wrong shard is an error naming both.
  const size_t pos = index.find("model-00002");
  std::string wrong = index;
  wrong.replace(pos, 11, "model-00001");
  {
    std::ofstream(dir / "model.safetensors.index.json") << wrong;
  }
  try {
    load_checkpoint(dir.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is listed in shard 'model-00001-of-00002.safetensors' but that file does not hold it"), std::string::npos)
        << e.what();
  }
}
