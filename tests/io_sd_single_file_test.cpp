// Stable Diffusion single-file checkpoints: the text encoders are found under their prefixes
// (SD 1.x cond_stage_model.transformer., SD 2.x cond_stage_model.model., SDXL
// conditioner.embedders.{0,1}.) and loaded with a derived architecture; the rest is ignored.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/name_map.h"
#include "io/safetensors.h"

using namespace clipkit;
using namespace clipkit::io;
namespace fs = std::filesystem;

namespace {

// A text-only config of the shape the released towers have (64-wide heads).
ModelConfig text_config(int width, int layers, bool projection, Activation act) {
  ModelConfig c;
  TextConfig t;
  t.vocab_size = 300;
  t.context_length = 77;
  t.width = width;
  t.heads = width / 64;
  t.layers = layers;
  t.mlp_width = 4 * width;
  t.activation = act;
  t.has_projection = projection;
  c.text = t;
  c.embed_dim = width;
  c.name = "synthetic";
  return c;
}

std::map<std::string, Tensor> random_params(const ModelConfig& c, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::map<std::string, Tensor> p;
  for (const auto& [n, s] : canonical_shapes(c)) {
    Tensor t = Tensor::empty(DType::F16, s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<uint16_t>()[i] = f32_to_f16(d(rng));
    p[n] = t;
  }
  return p;
}

void add(std::vector<std::pair<std::string, Tensor>>& out, const std::string& prefix,
         const std::vector<std::pair<std::string, Tensor>>& tensors) {
  for (const auto& [n, t] : tensors) out.emplace_back(prefix + n, t);
}

void expect_params(const Checkpoint& ck, const std::map<std::string, Tensor>& want) {
  ASSERT_EQ(ck.params.size(), want.size());
  for (const auto& [n, t] : want) {
    const Tensor u = ck.param(n).contiguous();
    ASSERT_EQ(u.shape(), t.shape()) << n;
    EXPECT_EQ(std::memcmp(u.raw(), t.raw(), t.nbytes()), 0) << n;
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SdSingleFile, SdxlBothEncoders) {
  const ModelConfig l = text_config(64, 2, false, Activation::kQuickGelu);
  const ModelConfig g = text_config(128, 3, true, Activation::kGelu);
  const auto pl = random_params(l, 1), pg = random_params(g, 2);
  std::vector<std::pair<std::string, Tensor>> file;
  add(file, "conditioner.embedders.0.transformer.", map_from_canonical(hf_name_map(l), pl, "l"));
  add(file, "conditioner.embedders.1.model.", map_from_canonical(openai_name_map(g), pg, "g"));
  file.emplace_back("conditioner.embedders.1.model.logit_scale", Tensor::zeros(DType::F32, {}));
  file.emplace_back("conditioner.embedders.0.transformer.text_model.embeddings.position_ids",
                    Tensor::zeros(DType::I64, {1, 77}));
  file.emplace_back("model.diffusion_model.input_blocks.0.0.weight", Tensor::zeros(DType::F16, {4, 4}));
  file.emplace_back("first_stage_model.decoder.conv_in.weight", Tensor::zeros(DType::F16, {2}));
  const std::string path = (fs::path(::testing::TempDir()) / "io_sdxl.safetensors").string();
  write_safetensors(path, file);

  Checkpoint e1 = load_checkpoint(path);
  EXPECT_EQ(e1.layout, Layout::kSDSingleFile);
  EXPECT_FALSE(e1.config.vision);
  EXPECT_EQ(e1.config.text->width, 64);
  EXPECT_EQ(e1.config.text->heads, 1);
  EXPECT_EQ(e1.config.text->layers, 2);
  EXPECT_EQ(e1.config.text->mlp_width, 256);
  EXPECT_EQ(e1.config.text->vocab_size, 300);
  EXPECT_EQ(e1.config.text->activation, Activation::kQuickGelu);
  EXPECT_FALSE(e1.config.text->has_projection);
  expect_params(e1, pl);

  LoadOptions o;
  o.component = "text_encoder_2";
  Checkpoint e2 = load_checkpoint(path, o);
  EXPECT_EQ(e2.config.text->heads, 2);
  EXPECT_EQ(e2.config.text->layers, 3);
  EXPECT_EQ(e2.config.text->activation, Activation::kGelu);
  EXPECT_TRUE(e2.config.text->has_projection);
  EXPECT_EQ(e2.config.embed_dim, 128);
  EXPECT_EQ(e2.config.text->pooling, TextPooling::kArgmax);
  expect_params(e2, pg);

  o.component = "unet";
  EXPECT_NE(error_of([&] { load_checkpoint(path, o); }).find("unknown component 'unet'"), std::string::npos);
  LoadOptions a;
  a.arch = "ViT-L-14";
  EXPECT_NE(error_of([&] { load_checkpoint(path, a); }).find("--arch does not apply"), std::string::npos);
}

TEST(SdSingleFile, Sd1AndSd2) {
  const ModelConfig l = text_config(64, 2, false, Activation::kQuickGelu);
  const auto pl = random_params(l, 3);
  std::vector<std::pair<std::string, Tensor>> sd1;
  add(sd1, "cond_stage_model.transformer.", map_from_canonical(hf_name_map(l), pl, "l"));
  sd1.emplace_back("model.diffusion_model.out.2.bias", Tensor::zeros(DType::F16, {4}));
  const std::string p1 = (fs::path(::testing::TempDir()) / "io_sd1.safetensors").string();
  write_safetensors(p1, sd1);
  Checkpoint c1 = load_checkpoint(p1);
  EXPECT_EQ(c1.layout, Layout::kSDSingleFile);
  expect_params(c1, pl);
  LoadOptions o;
  o.component = "text_encoder_2";
  EXPECT_NE(error_of([&] { load_checkpoint(p1, o); }).find("has one text encoder"), std::string::npos);

  const ModelConfig h = text_config(128, 2, true, Activation::kGelu);
  const auto ph = random_params(h, 4);
  std::vector<std::pair<std::string, Tensor>> sd2;
  add(sd2, "cond_stage_model.model.", map_from_canonical(openai_name_map(h), ph, "h"));
  const std::string p2 = (fs::path(::testing::TempDir()) / "io_sd2.safetensors").string();
  write_safetensors(p2, sd2);
  Checkpoint c2 = load_checkpoint(p2);
  EXPECT_EQ(c2.config.text->activation, Activation::kGelu);
  expect_params(c2, ph);

  // A damaged tower is still checked tensor by tensor.
  std::erase_if(sd2, [](const auto& p) { return p.first == "cond_stage_model.model.transformer.resblocks.1.ln_2.bias"; });
  write_safetensors(p2, sd2);
  const std::string e = error_of([&] { load_checkpoint(p2); });
  EXPECT_NE(e.find("missing 1: 'transformer.resblocks.1.ln_2.bias' [128]"), std::string::npos) << e;
}
