// End to end through the clipkit command: text and image files in, embeddings out, compared with
// OpenAI's outputs for the same prompts and images (tests/data/goldens).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "io/npy.h"
#include "io/safetensors.h"
#include "testing.h"

using namespace clipkit;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;
using test_util::temp_path;

int run(const std::string& args, std::string* err = nullptr) {
  const std::string errfile = temp_path("stderr.txt");
  const int rc = std::system((std::string(CLIPKIT_BINARY) + " " + args + " 2>" + errfile).c_str());
  if (err) {
    std::ifstream in(errfile);
    err->assign((std::istreambuf_iterator<char>(in)), {});
  }
  return WEXITSTATUS(rc);
}

// max |a - b| / max |b| between row `ra` of a and the L2-normalised row `rb` of golden b.
double rel_err_normalized(const Tensor& a, int ra, const Tensor& b, int rb) {
  const int64_t d = b.dim(1);
  const float* x = a.data<float>() + ra * d;
  const float* y = b.data<float>() + rb * d;
  double n = 0;
  for (int64_t k = 0; k < d; ++k) n += double(y[k]) * y[k];
  n = std::sqrt(n);
  double err = 0, mag = 0;
  for (int64_t k = 0; k < d; ++k) {
    err = std::max(err, std::abs(x[k] - y[k] / n));
    mag = std::max(mag, std::abs(y[k] / n));
  }
  return err / mag;
}

struct Case {
  const char* model;
  const char* golden;
};

}  // namespace

class CliEmbed : public ::testing::TestWithParam<Case> {};

TEST_P(CliEmbed, MatchesOpenAIFromTextsAndImageFiles) {
  const Case c = GetParam();
  const auto g = io::SafetensorsFile::open(kData + "/goldens/" + c.golden);
  const std::string out = temp_path("emb.safetensors");
  // Prompts 0 and 1 of the golden file; images 1 (chelsea.png) and 2 (rocket.jpg).
  const std::string args = "embed --model " + kData + "/models/" + c.model +
                           " --text 'a photo of a cat'"
                           " --text 'a photograph of an astronaut riding a horse 🐴'"
                           " --image " + kData + "/images/chelsea.png"
                           " --image " + kData + "/images/rocket.jpg -o " + out;
  std::string err;
  ASSERT_EQ(run(args, &err), 0) << err;
  const auto f = io::SafetensorsFile::open(out);
  const Tensor& t = f.get("text_embeds");
  const Tensor& v = f.get("image_embeds");
  ASSERT_EQ(t.shape(), (Shape{2, 24}));
  ASSERT_EQ(v.shape(), (Shape{2, 24}));
  for (int i = 0; i < 2; ++i) {
    const double et = rel_err_normalized(t, i, g.get("text_embeds"), i);
    const double ev = rel_err_normalized(v, i, g.get("image_embeds"), i + 1);
    std::printf("%s text %d: %.3g  image %d: %.3g\n", c.model, i, et, i + 1, ev);
    EXPECT_LT(et, 1e-5);
    EXPECT_LT(ev, 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, CliEmbed,
                         ::testing::Values(Case{"tiny_vit", "tiny_vit.safetensors"},
                                           Case{"tiny_rn", "tiny_rn.safetensors"}),
                         [](const auto& info) { return std::string(info.param.model); });

TEST(CliEmbedErrors, ClearMessages) {
  std::string err;
  EXPECT_EQ(run("embed --model " + kData + "/models/tiny_vit --text x -o " + temp_path("x.txt"), &err), 1);
  EXPECT_NE(err.find(".safetensors, .npy or .jsonl"), std::string::npos) << err;
  EXPECT_EQ(run("embed --model " + kData + "/models/tiny_vit --image /no/such.png -o " + temp_path("x.npy"), &err), 1);
  EXPECT_NE(err.find("/no/such.png"), std::string::npos) << err;
  EXPECT_EQ(run("embed --model /no/such/model --text x -o " + temp_path("x.npy"), &err), 1);
  EXPECT_NE(err.find("/no/such/model"), std::string::npos) << err;
  EXPECT_EQ(run("embed --model " + kData + "/models/tiny_vit -o " + temp_path("x.npy"), &err), 1);
  EXPECT_NE(err.find("nothing to embed"), std::string::npos) << err;
}

TEST(CliEmbedOutputs, NpyAndJsonl) {
  const std::string npy = temp_path("t.npy");
  ASSERT_EQ(run("embed --model " + kData + "/models/tiny_vit --text 'a photo of a cat' -o " + npy), 0);
  const Tensor t = io::read_npy(npy);
  ASSERT_EQ(t.shape(), (Shape{1, 24}));
  const auto g = io::SafetensorsFile::open(kData + "/goldens/tiny_vit.safetensors");
  EXPECT_LT(rel_err_normalized(t, 0, g.get("text_embeds"), 0), 1e-5);
  const std::string jl = temp_path("t.jsonl");
  ASSERT_EQ(run("embed --model " + kData + "/models/tiny_vit --text 'say \"hi\"' -o " + jl), 0);
  std::ifstream in(jl);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line.rfind("{\"type\": \"text\", \"input\": \"say \\\"hi\\\"\", \"embedding\": [", 0), 0u)
      << line;
}
