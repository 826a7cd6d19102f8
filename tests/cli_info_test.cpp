// `clipkit info`: runs the built command on the fixture models.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "testing.h"

namespace {

const std::string kData = CLIPKIT_TEST_DATA;
using clipkit::test_util::CommandResult;

// Runs clipkit with `args` (stderr folded into stdout).
CommandResult run_clipkit(const std::string& args) {
  return clipkit::test_util::run_command(std::string(CLIPKIT_BINARY) + " " + args);
}

}  // namespace

TEST(CliInfo, OpenClipFolderAsJson) {
  const CommandResult r = run_clipkit("info " + kData + "/models/tiny_vit --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["layout"], "openai");
  EXPECT_EQ(j["parameters"], 1718705);
  EXPECT_EQ(j["embed_dim"], 24);
  EXPECT_EQ(j["dtypes"]["F32"], 110);  // 86 file tensors, 6 fused in_proj pairs split in 3
  EXPECT_EQ(j["text"]["heads"], 4);
  EXPECT_EQ(j["text"]["pooling"], "argmax");
  EXPECT_EQ(j["vision"]["kind"], "vit");
  EXPECT_EQ(j["vision"]["heads"], 3);
  EXPECT_EQ(j["vision"]["patch_size"], 8);
  EXPECT_EQ(j["vision"]["image_size"], 32);
  EXPECT_EQ(j["vision"]["activation"], "quick_gelu");
  EXPECT_FLOAT_EQ(j["preprocess"]["mean"][0].get<float>(), 0.48145466f);
}

TEST(CliInfo, TextOutputForEveryLayout) {
  const CommandResult hf = run_clipkit("info " + kData + "/hf/hf_tiny_laion");
  ASSERT_EQ(hf.status, 0) << hf.out;
  EXPECT_NE(hf.out.find("layout: transformers"), std::string::npos) << hf.out;
  EXPECT_NE(hf.out.find("pooling: first_eot"), std::string::npos) << hf.out;
  EXPECT_NE(hf.out.find("dtypes: F16 x"), std::string::npos) << hf.out;
  const CommandResult te = run_clipkit("info " + kData + "/hf/hf_tiny_sdxl/text_encoder");
  ASSERT_EQ(te.status, 0) << te.out;
  EXPECT_NE(te.out.find("layout: diffusers"), std::string::npos) << te.out;
  EXPECT_EQ(te.out.find("vision:"), std::string::npos) << te.out;
  const CommandResult ts = run_clipkit("info " + kData + "/torch/tiny_vit_torchscript.pt --arch ViT-B-32");
  EXPECT_EQ(ts.status, 1);
  EXPECT_NE(ts.out.find("clipkit: error:"), std::string::npos) << ts.out;
  EXPECT_NE(ts.out.find("needs [49408, 512]"), std::string::npos) << ts.out;
}

TEST(CliInfo, Errors) {
  const CommandResult missing = run_clipkit("info " + kData + "/no/such/model");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("does not exist"), std::string::npos) << missing.out;
  const CommandResult hostile = run_clipkit("info " + kData + "/torch/hostile_os_system.pt");
  EXPECT_EQ(hostile.status, 1);
  EXPECT_NE(hostile.out.find("os.system"), std::string::npos) << hostile.out;
  const CommandResult help = run_clipkit("info --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos) << help.out;
}
