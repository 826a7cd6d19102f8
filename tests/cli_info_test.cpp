// `clipkit info`: runs the built command on the fixture models.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

struct RunResult {
  int status;
  std::string out;
};

// Runs clipkit with `args` (stderr folded into stdout).
RunResult clipkit(const std::string& args) {
  const std::string cmd = std::string(CLIPKIT_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {-1, ""};
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace

TEST(CliInfo, OpenClipFolderAsJson) {
  const RunResult r = clipkit("info " + kData + "/models/tiny_vit --json");
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
  const RunResult hf = clipkit("info " + kData + "/hf/hf_tiny_laion");
  ASSERT_EQ(hf.status, 0) << hf.out;
  EXPECT_NE(hf.out.find("layout: transformers"), std::string::npos) << hf.out;
  EXPECT_NE(hf.out.find("pooling: first_eot"), std::string::npos) << hf.out;
  EXPECT_NE(hf.out.find("dtypes: F16 x"), std::string::npos) << hf.out;
  const RunResult te = clipkit("info " + kData + "/hf/hf_tiny_sdxl/text_encoder");
  ASSERT_EQ(te.status, 0) << te.out;
  EXPECT_NE(te.out.find("layout: diffusers"), std::string::npos) << te.out;
  EXPECT_EQ(te.out.find("vision:"), std::string::npos) << te.out;
  const RunResult ts = clipkit("info " + kData + "/torch/tiny_vit_torchscript.pt --arch ViT-B-32");
  EXPECT_EQ(ts.status, 1);
  EXPECT_NE(ts.out.find("clipkit: error:"), std::string::npos) << ts.out;
  EXPECT_NE(ts.out.find("needs [49408, 512]"), std::string::npos) << ts.out;
}

TEST(CliInfo, Errors) {
  const RunResult missing = clipkit("info " + kData + "/no/such/model");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("does not exist"), std::string::npos) << missing.out;
  const RunResult hostile = clipkit("info " + kData + "/torch/hostile_os_system.pt");
  EXPECT_EQ(hostile.status, 1);
  EXPECT_NE(hostile.out.find("os.system"), std::string::npos) << hostile.out;
  const RunResult help = clipkit("info --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos) << help.out;
}
