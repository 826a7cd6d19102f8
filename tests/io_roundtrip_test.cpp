// Converting the fixture models between layouts with save_checkpoint and loading them back:
// the canonical tensors (bit for bit, same dtype) and the architecture survive every trip.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/name_map.h"
#include "io/safetensors.h"

using namespace clipkit;
using namespace clipkit::io;
namespace fs = std::filesystem;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

std::string tmp(const std::string& name) {
  const fs::path p = fs::path(::testing::TempDir()) / ("io_roundtrip_" + name);
  fs::remove_all(p);
  return p.string();
}

void expect_same_arch(const ModelConfig& a, const ModelConfig& b, bool same_pooling = true) {
  EXPECT_EQ(a.embed_dim, b.embed_dim);
  ASSERT_EQ(a.text.has_value(), b.text.has_value());
  ASSERT_EQ(a.vision.has_value(), b.vision.has_value());
  if (a.text) {
    const TextConfig &x = *a.text, &y = *b.text;
    EXPECT_EQ(x.vocab_size, y.vocab_size);
    EXPECT_EQ(x.context_length, y.context_length);
    EXPECT_EQ(x.width, y.width);
    EXPECT_EQ(x.heads, y.heads);
    EXPECT_EQ(x.layers, y.layers);
    EXPECT_EQ(x.mlp_width, y.mlp_width);
    EXPECT_EQ(x.activation, y.activation);
    if (same_pooling) {
      EXPECT_EQ(x.pooling, y.pooling);
      EXPECT_EQ(x.eot_token_id, y.eot_token_id);
    }
    EXPECT_EQ(x.ln_eps, y.ln_eps);
    EXPECT_EQ(x.has_projection, y.has_projection);
  }
  if (a.vision) {
    const VisionConfig &x = *a.vision, &y = *b.vision;
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.image_size, y.image_size);
    EXPECT_EQ(x.patch_size, y.patch_size);
    EXPECT_EQ(x.width, y.width);
    EXPECT_EQ(x.layers, y.layers);
    EXPECT_EQ(x.heads, y.heads);
    EXPECT_EQ(x.mlp_width, y.mlp_width);
    EXPECT_EQ(x.resnet_layers, y.resnet_layers);
    EXPECT_EQ(x.activation, y.activation);
    EXPECT_EQ(x.has_projection, y.has_projection);
  }
}

void expect_same_params(const Checkpoint& a, const Checkpoint& b) {
  ASSERT_EQ(a.params.size(), b.params.size());
  for (const auto& [n, t] : a.params) {
    auto it = b.params.find(n);
    ASSERT_NE(it, b.params.end()) << n;
    const Tensor& u = it->second;
    EXPECT_EQ(t.dtype(), u.dtype()) << n;
    ASSERT_EQ(t.shape(), u.shape()) << n;
    const Tensor x = t.contiguous(), y = u.contiguous();
    EXPECT_EQ(std::memcmp(x.raw(), y.raw(), x.nbytes()), 0) << n;
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

TEST(RoundTrip, OpenClipViTThroughTransformers) {
  Checkpoint orig = load_checkpoint(kData + "/models/tiny_vit");
  const std::string hf = tmp("vit_hf");
  save_checkpoint(orig, hf, Layout::kHF);
  EXPECT_TRUE(fs::exists(fs::path(hf) / "preprocessor_config.json"));
  Checkpoint a = load_checkpoint(hf);
  EXPECT_EQ(a.layout, Layout::kHF);
  expect_same_arch(orig.config, a.config);
  expect_same_params(orig, a);
  EXPECT_EQ(a.config.preprocess.size, 32);
  EXPECT_EQ(a.config.preprocess.mean, orig.config.preprocess.mean);
  const std::string oa = tmp("vit_openai");
  save_checkpoint(a, oa, Layout::kOpenAI);
  Checkpoint b = load_checkpoint(oa);
  EXPECT_EQ(b.layout, Layout::kOpenAI);
  expect_same_arch(orig.config, b.config);
  expect_same_params(orig, b);
  // The OpenAI file written is the fixture's state dict again, tensor for tensor.
  SafetensorsFile f0 = SafetensorsFile::open(kData + "/models/tiny_vit/open_clip_model.safetensors");
  SafetensorsFile f1 = SafetensorsFile::open(oa + "/open_clip_model.safetensors");
  ASSERT_EQ(f0.names().size(), f1.names().size());
  for (const auto& n : f0.names()) {
    ASSERT_TRUE(f1.contains(n)) << n;
    ASSERT_EQ(f0.get(n).shape(), f1.get(n).shape()) << n;
    EXPECT_EQ(std::memcmp(f0.get(n).raw(), f1.get(n).raw(), f0.get(n).nbytes()), 0) << n;
  }
}

TEST(RoundTrip, TransformersThroughOpenAI) {
  for (const char* m : {"hf_tiny_openai", "hf_tiny_laion"}) {
    Checkpoint orig = load_checkpoint(kData + "/hf/" + m);
    const std::string oa = tmp(std::string(m) + "_openai");
    save_checkpoint(orig, oa, Layout::kOpenAI);
    Checkpoint a = load_checkpoint(oa);
    // OpenCLIP has only argmax pooling; it agrees with first-EOT pooling for real token ids.
    expect_same_arch(orig.config, a.config, std::string(m) == "hf_tiny_openai");
    expect_same_params(orig, a);
    const std::string hf = tmp(std::string(m) + "_hf");
    save_checkpoint(a, hf, Layout::kHF);
    Checkpoint b = load_checkpoint(hf);
    expect_same_params(orig, b);
    // The transformers file written holds exactly the original's tensors.
    SafetensorsFile f0 = SafetensorsFile::open(kData + "/hf/" + m + "/model.safetensors");
    SafetensorsFile f1 = SafetensorsFile::open(hf + "/model.safetensors");
    ASSERT_EQ(f0.names().size(), f1.names().size()) << m;
    for (const auto& n : f0.names()) {
      ASSERT_TRUE(f1.contains(n)) << n;
      EXPECT_EQ(std::memcmp(f0.get(n).raw(), f1.get(n).raw(), f0.get(n).nbytes()), 0) << n;
    }
  }
}

TEST(RoundTrip, TextEncoders) {
  for (const char* m : {"text_encoder", "text_encoder_2"}) {
    Checkpoint orig = load_checkpoint(kData + "/hf/hf_tiny_sdxl/" + m);
    const std::string out = tmp(m) + "/text_encoder";
    save_checkpoint(orig, out, Layout::kDiffusers);
    Checkpoint a = load_checkpoint(out);
    EXPECT_EQ(a.layout, Layout::kDiffusers);
    expect_same_arch(orig.config, a.config);
    expect_same_params(orig, a);
    // Single towers cannot be written as OpenCLIP models.
    EXPECT_NE(error_of([&] { save_checkpoint(orig, tmp("te_openai"), Layout::kOpenAI); })
                  .find("needs both a text and a vision tower"),
              std::string::npos);
  }
}

TEST(RoundTrip, ResNetStaysOpenAI) {
  Checkpoint orig = load_checkpoint(kData + "/models/tiny_rn");
  const std::string oa = tmp("rn_openai");
  save_checkpoint(orig, oa, Layout::kOpenAI);
  Checkpoint a = load_checkpoint(oa);
  expect_same_arch(orig.config, a.config);
  expect_same_params(orig, a);
  EXPECT_NE(error_of([&] { save_checkpoint(orig, tmp("rn_hf"), Layout::kHF); }).find("ModifiedResNet"),
            std::string::npos);
}
