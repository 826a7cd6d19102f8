// `clipkit preprocess` end to end: the written tensors equal the reference pipelines' outputs
// (tests/data/preprocess/pixels.safetensors, tests/data/hf/pixels.safetensors) bit for bit, and
// bad input is reported by file name.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace {

const std::string kData = CLIPKIT_TEST_DATA;
const std::string kBin = CLIPKIT_BINARY;

struct CmdResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

CmdResult run(const std::string& args) {
  CmdResult r;
  FILE* p = popen((kBin + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string tmp(const std::string& name) { return testing::TempDir() + "/cli_preprocess_" + name; }

// Every tensor `name` of `got` equals `ref` key `name@size` exactly.
void expect_same(const clipkit::io::SafetensorsFile& got, const clipkit::io::SafetensorsFile& ref,
                 const std::vector<std::string>& names, int size) {
  for (const std::string& n : names) {
    ASSERT_TRUE(got.contains(n)) << n;
    const clipkit::Tensor& g = got.get(n);
    const clipkit::Tensor& w = ref.get(n + "@" + std::to_string(size));
    ASSERT_EQ(g.shape(), w.shape()) << n;
    float max_err = 0;
    for (int64_t i = 0; i < g.numel(); ++i)
      max_err = std::max(max_err, std::fabs(g.data<float>()[i] - w.data<float>()[i]));
    std::printf("  %s@%d: max |err| %g\n", n.c_str(), size, max_err);
    EXPECT_EQ(max_err, 0.0f) << n;
  }
}

}  // namespace

TEST(CliPreprocess, OpenAIProfileMatchesReferenceAt224And336) {
  const std::vector<std::string> names = {
      "astronaut_256.png", "camera.png",     "chelsea.png",        "cmyk.jpg",
      "exif_orientation6.jpg", "logo.png",   "motorcycle_portrait.jpg", "palette.png",
      "panorama_3000x200.png", "rgba_alpha.png", "rocket.jpg",        "tiny_7x5.png"};
  std::string args;
  for (const auto& n : names) args += " " + kData + "/images/" + n;
  const std::string out = tmp("openai224.safetensors");
  const CmdResult r = run("preprocess" + args + " -o " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto ref = clipkit::io::SafetensorsFile::open(kData + "/preprocess/pixels.safetensors");
  const auto got = clipkit::io::SafetensorsFile::open(out);
  EXPECT_EQ(got.names().size(), names.size());
  expect_same(got, ref, names, 224);

  const std::string out336 = tmp("openai336.safetensors");
  const CmdResult r336 = run("preprocess --size 336 --threads 1 " + kData + "/images/chelsea.png " + kData +
                       "/images/motorcycle_portrait.jpg -o " + out336);
  ASSERT_EQ(r336.status, 0) << r336.output;
  expect_same(clipkit::io::SafetensorsFile::open(out336), ref,
              {"chelsea.png", "motorcycle_portrait.jpg"}, 336);
}

TEST(CliPreprocess, HFProfileMatchesCLIPImageProcessor) {
  const std::vector<std::string> names = {"astronaut.png", "camera.png", "chelsea.png",
                                          "coffee.png",    "logo.png",   "rocket.jpg"};
  std::string args;
  for (const auto& n : names) args += " " + kData + "/hf/images/" + n;
  const auto ref = clipkit::io::SafetensorsFile::open(kData + "/hf/pixels.safetensors");
  for (int size : {224, 32}) {
    const std::string out = tmp("hf" + std::to_string(size) + ".safetensors");
    const CmdResult r = run("preprocess --profile hf --size " + std::to_string(size) + args + " -o " + out);
    ASSERT_EQ(r.status, 0) << r.output;
    expect_same(clipkit::io::SafetensorsFile::open(out), ref, names, size);
  }
}

TEST(CliPreprocess, DumpsUint8CropsConsistentWithTheTensor) {
  const std::string out = tmp("dump.safetensors");
  const CmdResult r = run("preprocess --dump-uint8 " + kData + "/images/rgba_alpha.png -o " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto f = clipkit::io::SafetensorsFile::open(out);
  const clipkit::Tensor& u = f.get("rgba_alpha.png.uint8");
  const clipkit::Tensor& x = f.get("rgba_alpha.png");
  ASSERT_EQ(u.shape(), (clipkit::Shape{224, 224, 3}));
  const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  const float sd[3] = {0.26862954f, 0.26130258f, 0.27577711f};
  int bad = 0;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 224 * 224; ++i)
      if ((float(u.data<uint8_t>()[i * 3 + c]) / 255.0f - mean[c]) / sd[c] !=
          x.data<float>()[c * 224 * 224 + i])
        ++bad;
  EXPECT_EQ(bad, 0);
  // The transparent left third of the image resizes to black (premultiplied alpha).
  EXPECT_EQ(u.data<uint8_t>()[0], 0);
}

TEST(CliPreprocess, ReportsBadFilesByName) {
  const std::string junk = tmp("junk.png");
  {
    FILE* f = std::fopen(junk.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("\x89PNG\r\n\x1a\n truncated", f);
    std::fclose(f);
  }
  const std::string good = kData + "/images/camera.png";
  const std::string out = tmp("bad.safetensors");
  CmdResult r = run("preprocess " + good + " " + kData + "/images/missing.jpg " + junk + " -o " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("missing.jpg"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cli_preprocess_junk.png"), std::string::npos) << r.output;

  r = run("preprocess --skip-bad " + good + " " + junk + " -o " + out);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("warning"), std::string::npos) << r.output;
  const auto f = clipkit::io::SafetensorsFile::open(out);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"camera.png"}));

  r = run("preprocess " + good + " " + kData + "/hf/images/camera.png -o " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("both named"), std::string::npos) << r.output;
  r = run("preprocess --mean 0.5,0.5 " + good + " -o " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--mean"), std::string::npos) << r.output;
  r = run("preprocess --resample cubic-spline " + good + " -o " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("cubic-spline"), std::string::npos) << r.output;
}

TEST(CliPreprocess, HelpTeachesByExample) {
  const CmdResult r = run("preprocess --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("Examples:"), std::string::npos);
  EXPECT_NE(r.output.find("--profile hf"), std::string::npos);
}
