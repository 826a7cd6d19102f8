// Quantised models against their float32 originals on the fixture inputs the goldens use (the six
// prompts' token ids and the preprocessed photos): every fixture model is quantised to int8,
// written, loaded back and run on both backends, and its embeddings are compared with the float32
// model's by cosine similarity. The minimum over all rows is printed; int8 must stay >= 0.995.
// 16-bit models must give exactly the float32 model of their widened weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "io/checkpoint.h"
#include "io/quantize.h"
#include "io/safetensors.h"
#include "model/clip_model.h"
#include "testing.h"

namespace clipkit {
namespace {

namespace fs = std::filesystem;
using model::BackendKind;
using model::ClipModel;

const std::string kData = CLIPKIT_TEST_DATA;

// The smallest cosine similarity between corresponding rows of a and b, both [..., D].
double min_row_cosine(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const Tensor x = a.to(DType::F64), y = b.to(DType::F64);
  const int64_t d = a.dim(-1), rows = a.numel() / d;
  double worst = 1.0;
  for (int64_t r = 0; r < rows; ++r) {
    double xy = 0, xx = 0, yy = 0;
    for (int64_t k = 0; k < d; ++k) {
      const double u = x.data<double>()[r * d + k], v = y.data<double>()[r * d + k];
      xy += u * v;
      xx += u * u;
      yy += v * v;
    }
    worst = std::min(worst, xy / std::sqrt(xx * yy));
  }
  return worst;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0;
}

struct Case {
  const char* name;
  const char* model;   // below tests/data
  const char* golden;  // the goldens file whose inputs are used
  const char* ids;     // key of the token ids
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// What is compared: the text tower's embeddings (or pooled output without a projection) and its
// last hidden state token by token (what Stable Diffusion conditions on), and the image
// embeddings.
struct Outputs {
  Tensor text, text_tokens, image;
};

Outputs run(const ClipModel& m, const io::SafetensorsFile& g, const Case& c) {
  Outputs o;
  if (m.has_text()) {
    const model::TextOutputs t = m.encode_text(g.get(c.ids));
    o.text = t.embeds.defined() ? t.embeds : t.pooled;
    o.text_tokens = t.last_hidden_state;
  }
  if (m.has_vision()) o.image = m.encode_image(g.get("pixel_values")).embeds;
  return o;
}

// A 16-bit checkpoint's tensors widened to float32. The model fuses 16-bit q/k/v weights into one
// [3W, W] matrix (one GEMM); the widened q/k/v are placed back to back in one buffer so that the
// float32 model fuses them too and runs the same products.
io::Checkpoint widened(const io::Checkpoint& h) {
  io::Checkpoint wide = h;
  for (auto& [name, t] : wide.params) t = t.to(DType::F32).set_name(name);
  for (auto& [name, t] : wide.params) {
    const std::string suffix = "attn.q_proj.weight";
    if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string p = name.substr(0, name.size() - suffix.size()) + "attn.";
    const int64_t w = t.dim(0);
    Tensor fused = Tensor::empty(DType::F32, {3 * w, t.dim(1)});
    int i = 0;
    for (const char* x : {"q", "k", "v"}) {
      Tensor& part = wide.params.at(p + x + "_proj.weight");
      std::memcpy(fused.data<float>() + i * part.numel(), part.raw(), part.nbytes());
      part = fused.slice(0, i * w, (i + 1) * w).set_name(p + x + "_proj.weight");
      ++i;
    }
  }
  return wide;
}

class QuantizedModel : public ::testing::TestWithParam<Case> {};

TEST_P(QuantizedModel, Int8EmbeddingsCloseToFloat) {
  const Case c = GetParam();
  const auto g = io::SafetensorsFile::open(kData + "/" + c.golden);
  const io::Checkpoint orig = io::load_checkpoint(kData + "/" + c.model);
  const io::Checkpoint q = io::quantize_checkpoint(orig, io::QuantizeTarget::kInt8);
  const std::string dir = test_util::temp_path("int8");
  io::save_checkpoint(q, dir, orig.layout == io::Layout::kOpenAI ? io::Layout::kOpenAI : io::Layout::kHF);
  for (BackendKind be : {BackendKind::kRef, BackendKind::kCpu}) {
    model::ModelOptions opts;
    opts.backend = be;
    const ClipModel mf = ClipModel::from_checkpoint(orig, opts);
    const ClipModel mq = ClipModel::load(dir, opts);
    const ClipModel mq_mem = ClipModel::from_checkpoint(q, opts);
    const Outputs f = run(mf, g, c), o = run(mq, g, c), om = run(mq_mem, g, c);
    double worst = 1.0;
    std::printf("  %s int8 on %s: min cosine", c.name, model::backend_kind_name(be));
    if (f.text.defined()) {
      const double t = min_row_cosine(o.text, f.text), tok = min_row_cosine(o.text_tokens, f.text_tokens);
      std::printf("  text %.6f  text tokens %.6f", t, tok);
      worst = std::min({worst, t, tok});
      // The written and reloaded model computes exactly what the in-memory one does.
      EXPECT_TRUE(bit_equal(o.text, om.text)) << c.name;
    }
    if (f.image.defined()) {
      const double i = min_row_cosine(o.image, f.image);
      std::printf("  image %.6f", i);
      worst = std::min(worst, i);
      EXPECT_TRUE(bit_equal(o.image, om.image)) << c.name;
    }
    std::printf("\n");
    EXPECT_GE(worst, 0.995) << c.name << " on " << model::backend_kind_name(be);
  }
}

TEST_P(QuantizedModel, SixteenBitIsTheFloatModelOfItsWidenedWeights) {
  const Case c = GetParam();
  const auto g = io::SafetensorsFile::open(kData + "/" + c.golden);
  const io::Checkpoint orig = io::load_checkpoint(kData + "/" + c.model);
  for (io::QuantizeTarget to : {io::QuantizeTarget::kF16, io::QuantizeTarget::kBF16}) {
    const io::Checkpoint h = io::quantize_checkpoint(orig, to);
    // The same values widened back to float32 (exact), as a plain float32 checkpoint.
    const io::Checkpoint wide = widened(h);
    const std::string dir = test_util::temp_path(io::quantize_target_name(to));
    io::save_checkpoint(h, dir, orig.layout == io::Layout::kOpenAI ? io::Layout::kOpenAI : io::Layout::kHF);
    for (BackendKind be : {BackendKind::kRef, BackendKind::kCpu}) {
      model::ModelOptions opts;
      opts.backend = be;
      const Outputs o = run(ClipModel::load(dir, opts), g, c);
      const Outputs w = run(ClipModel::from_checkpoint(wide, opts), g, c);
      const Outputs f = run(ClipModel::from_checkpoint(orig, opts), g, c);
      const char* what = io::quantize_target_name(to);
      if (f.text.defined()) {
        EXPECT_TRUE(bit_equal(o.text, w.text)) << c.name << " " << what << " text";
        EXPECT_TRUE(bit_equal(o.text_tokens, w.text_tokens)) << c.name << " " << what << " tokens";
        std::printf("  %s %s on %s: text min cosine to float32 %.7f\n", c.name, what,
                    model::backend_kind_name(be), min_row_cosine(o.text, f.text));
      }
      if (f.image.defined()) {
        EXPECT_TRUE(bit_equal(o.image, w.image)) << c.name << " " << what << " image";
        std::printf("  %s %s on %s: image min cosine to float32 %.7f\n", c.name, what,
                    model::backend_kind_name(be), min_row_cosine(o.image, f.image));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, QuantizedModel,
    ::testing::Values(
        Case{"tiny_vit", "models/tiny_vit", "goldens/tiny_vit.safetensors", "input_ids"},
        Case{"tiny_rn", "models/tiny_rn", "goldens/tiny_rn.safetensors", "input_ids"},
        Case{"tiny_vit_fp16", "models/tiny_vit_fp16", "goldens/tiny_vit_fp16.safetensors", "input_ids"},
        Case{"hf_tiny_openai", "hf/hf_tiny_openai", "hf/hf_tiny_openai/goldens.safetensors", "input_ids"},
        Case{"hf_tiny_laion", "hf/hf_tiny_laion", "hf/hf_tiny_laion/goldens.safetensors", "input_ids"},
        Case{"sdxl_text_encoder", "hf/hf_tiny_sdxl/text_encoder", "hf/hf_tiny_sdxl/goldens.safetensors",
             "input_ids_1"},
        Case{"sdxl_text_encoder_2", "hf/hf_tiny_sdxl/text_encoder_2",
             "hf/hf_tiny_sdxl/goldens.safetensors", "input_ids_2"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace clipkit
