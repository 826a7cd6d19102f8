// `clipkit quantize` end to end: quantise a fixture model with the built command, then load the
// result with `clipkit info` and `clipkit embed`, whose embeddings are compared with OpenAI's
// float32 outputs for the same prompts and images (tests/data/goldens).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "io/safetensors.h"
#include "testing.h"

using namespace clipkit;
namespace fs = std::filesystem;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;
using test_util::temp_path;

test_util::CommandResult run_clipkit(const std::string& args) {
  return test_util::run_command(std::string(CLIPKIT_BINARY) + " " + args);
}

// Cosine similarity of row ra of a and row rb of b.
double cosine(const Tensor& a, int ra, const Tensor& b, int rb) {
  const int64_t d = b.dim(1);
  const float* x = a.data<float>() + ra * d;
  const float* y = b.data<float>() + rb * d;
  double xy = 0, xx = 0, yy = 0;
  for (int64_t k = 0; k < d; ++k) {
    xy += double(x[k]) * y[k];
    xx += double(x[k]) * x[k];
    yy += double(y[k]) * y[k];
  }
  return xy / std::sqrt(xx * yy);
}

// Embeds golden prompts 0 and 1 and images 1 and 2 (chelsea.png, rocket.jpg) with `model` and
// returns the smallest cosine to OpenAI's float32 embeddings of the same inputs.
double min_cosine_to_goldens(const std::string& model, const std::string& golden) {
  const std::string out = temp_path("emb.safetensors");
  const test_util::CommandResult r = run_clipkit("embed --model " + model +
                              " --text 'a photo of a cat'"
                              " --text 'a photograph of an astronaut riding a horse 🐴'"
                              " --image " + kData + "/images/chelsea.png"
                              " --image " + kData + "/images/rocket.jpg -o " + out);
  EXPECT_EQ(r.status, 0) << r.out;
  if (r.status != 0) return 0;
  const auto g = io::SafetensorsFile::open(kData + "/goldens/" + golden);
  const auto f = io::SafetensorsFile::open(out);
  double worst = 1.0;
  for (int i = 0; i < 2; ++i) {
    worst = std::min(worst, cosine(f.get("text_embeds"), i, g.get("text_embeds"), i));
    worst = std::min(worst, cosine(f.get("image_embeds"), i, g.get("image_embeds"), i + 1));
  }
  return worst;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST(CliQuantize, Int8FolderThenInfoAndEmbed) {
  const std::string out = temp_path("tiny_vit_int8");
  const test_util::CommandResult q = run_clipkit("quantize " + kData + "/models/tiny_vit -o " + out);
  ASSERT_EQ(q.status, 0) << q.out;
  EXPECT_NE(q.out.find("to int8: 36 tensors converted, 74 kept, 36 per-row scales added"),
            std::string::npos) << q.out;
  EXPECT_NE(q.out.find("tensor data: 6.87 MB -> 6.52 MB"), std::string::npos) << q.out;
  EXPECT_TRUE(fs::exists(out + "/open_clip_config.json"));
  const auto st = io::SafetensorsFile::open(out + "/open_clip_model.safetensors");
  EXPECT_EQ(st.get("visual.transformer.resblocks.0.attn.in_proj_weight").dtype(), DType::I8);
  EXPECT_EQ(st.get("visual.transformer.resblocks.0.attn.in_proj_weight_scale").shape(), (Shape{144}));
  EXPECT_EQ(st.get("transformer.resblocks.2.mlp.c_proj.weight_scale").shape(), (Shape{32}));
  EXPECT_EQ(st.metadata().at("quantization"), "int8");

  const test_util::CommandResult info = run_clipkit("info " + out + " --json");
  ASSERT_EQ(info.status, 0) << info.out;
  const auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["quantization"], "int8");
  EXPECT_EQ(j["int8_weights"], 36);
  EXPECT_EQ(j["dtypes"]["I8"], 36);
  EXPECT_EQ(j["parameters"], 1718705);
  const test_util::CommandResult text = run_clipkit("info " + out);
  EXPECT_NE(text.out.find("quantization: int8\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("dtypes: F32 x110 I8 x36"), std::string::npos) << text.out;

  const double c = min_cosine_to_goldens(out, "tiny_vit.safetensors");
  std::printf("tiny_vit int8 via the command: min cosine to OpenAI's float32 embeddings %.6f\n", c);
  EXPECT_GE(c, 0.995);
}

TEST(CliQuantize, SingleFileAnd16Bit) {
  const std::string file = temp_path("one") + "/tiny_rn-int8.safetensors";
  const test_util::CommandResult q = run_clipkit("quantize " + kData + "/models/tiny_rn -o " + file);
  ASSERT_EQ(q.status, 0) << q.out;
  const test_util::CommandResult info = run_clipkit("info " + file + " --json");
  ASSERT_EQ(info.status, 0) << info.out;
  const auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["config_source"], "config in the file's metadata");
  EXPECT_EQ(j["int8_weights"], 18);  // the text tower's blocks; the ResNet stays float
  const double c = min_cosine_to_goldens(file, "tiny_rn.safetensors");
  std::printf("tiny_rn int8 single file: min cosine %.6f\n", c);
  EXPECT_GE(c, 0.995);

  for (const char* to : {"f16", "bf16"}) {
    const std::string out = temp_path(to);
    const test_util::CommandResult h = run_clipkit("quantize " + kData + "/models/tiny_vit -o " + out + " --to " + to);
    ASSERT_EQ(h.status, 0) << h.out;
    const auto hj = nlohmann::json::parse(run_clipkit("info " + out + " --json").out);
    EXPECT_EQ(hj["quantization"], to);
    EXPECT_EQ(hj["dtypes"][to == std::string("f16") ? "F16" : "BF16"], 110);
    const double ch = min_cosine_to_goldens(out, "tiny_vit.safetensors");
    std::printf("tiny_vit %s: min cosine %.7f\n", to, ch);
    EXPECT_GE(ch, 0.9999);
  }
}

TEST(CliQuantize, TransformersLayoutForTextEncoders) {
  const std::string out = temp_path("te2");
  const test_util::CommandResult q = run_clipkit("quantize " + kData + "/hf/hf_tiny_sdxl/text_encoder_2 -o " + out);
  ASSERT_EQ(q.status, 0) << q.out;
  EXPECT_NE(q.out.find("transformers layout"), std::string::npos) << q.out;
  EXPECT_TRUE(fs::exists(out + "/config.json"));
  const auto j = nlohmann::json::parse(run_clipkit("info " + out + " --json").out);
  EXPECT_EQ(j["quantization"], "int8+f16");
  EXPECT_EQ(j["int8_weights"], 24);
  const test_util::CommandResult openclip = run_clipkit("quantize " + kData + "/hf/hf_tiny_sdxl/text_encoder_2 -o " +
                                     temp_path("x") + " --layout openclip");
  EXPECT_EQ(openclip.status, 1);
  EXPECT_NE(openclip.out.find("needs both a text and a vision tower"), std::string::npos) << openclip.out;
}

TEST(CliQuantize, ErrorsAndNoHalfOverwrittenOutput) {
  const std::string model = kData + "/models/tiny_vit";
  test_util::CommandResult r = run_clipkit("quantize " + model + " -o " + model);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("is the input model"), std::string::npos) << r.out;
  r = run_clipkit("quantize " + model + "/open_clip_model.safetensors -o " + model);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("would overwrite the input weights"), std::string::npos) << r.out;
  r = run_clipkit("quantize " + model + " -o " + temp_path("a") + " --to int4");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("int4"), std::string::npos) << r.out;
  r = run_clipkit("quantize /no/such/model -o " + temp_path("b"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("/no/such/model"), std::string::npos) << r.out;

  // A failed run leaves an earlier output as it was.
  const std::string out = temp_path("out");
  ASSERT_EQ(run_clipkit("quantize " + kData + "/models/tiny_rn -o " + out).status, 0);
  const std::string before = read_all(out + "/open_clip_model.safetensors");
  r = run_clipkit("quantize " + kData + "/models/tiny_rn -o " + out + " --layout transformers");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("already holds another model"), std::string::npos) << r.out;
  r = run_clipkit("quantize " + kData + "/models/tiny_rn -o " + out + " --to f16 --layout openclip --arch ViT-B-32");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(read_all(out + "/open_clip_model.safetensors"), before);
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_NE(e.path().extension(), ".tmp") << "temporary left behind: " << e.path();

  r = run_clipkit("quantize --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("Examples:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--to"), std::string::npos) << r.out;
}
