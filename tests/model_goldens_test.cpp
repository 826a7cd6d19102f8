// The model against the reference implementations' outputs: OpenAI's clip/model.py
// (tests/data/goldens, models in tests/data/models) and transformers' CLIPModel / CLIPTextModel
// (tests/data/hf). Every key of every golden file is checked, on both backends, to 1e-5 relative
// error (max|a - b| / max|b|), and each error is printed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "io/safetensors.h"
#include "model/clip_model.h"

namespace clipkit {
namespace {

using model::BackendKind;
using model::ClipModel;

const std::string kData = CLIPKIT_TEST_DATA;
constexpr double kTol = 1e-5;

double rel_err(const Tensor& got, const Tensor& want) {
  const Tensor a = got.to(DType::F64), b = want.to(DType::F64);
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    num = std::max(num, std::fabs(a.data<double>()[i] - b.data<double>()[i]));
    den = std::max(den, std::fabs(b.data<double>()[i]));
  }
  return den == 0 ? num : num / den;
}

// Checks one golden key; `got` is nullopt when the key is not one the test knows.
void check_key(const std::string& file, const std::string& key, const std::optional<Tensor>& got,
               const Tensor& want, double tol = kTol) {
  if (!got) {
    ADD_FAILURE() << file << ": no check for golden key '" << key << "'";
    return;
  }
  ASSERT_EQ(got->shape(), want.shape()) << file << " " << key;
  if (want.dtype() == DType::I64 || want.dtype() == DType::I32) {
    const Tensor a = got->to(DType::I64), b = want.to(DType::I64);
    for (int64_t i = 0; i < a.numel(); ++i)
      EXPECT_EQ(a.data<int64_t>()[i], b.data<int64_t>()[i]) << file << " " << key << " at " << i;
    std::printf("    %-34s exact\n", key.c_str());
    return;
  }
  const double e = rel_err(*got, want);
  std::printf("    %-34s %.3e\n", key.c_str(), e);
  EXPECT_LE(e, tol) << file << " " << key;
}

// Concatenation on the last axis of two [N, L, *] tensors.
Tensor concat_last(const Tensor& a, const Tensor& b) {
  const int64_t n = a.dim(0), l = a.dim(1), wa = a.dim(2), wb = b.dim(2);
  Tensor out = Tensor::empty(DType::F32, {n, l, wa + wb});
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  for (int64_t r = 0; r < n * l; ++r) {
    std::copy_n(ca.data<float>() + r * wa, wa, out.data<float>() + r * (wa + wb));
    std::copy_n(cb.data<float>() + r * wb, wb, out.data<float>() + r * (wa + wb) + wa);
  }
  return out;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
std::optional<int> suffix_index(const std::string& key, const std::string& prefix) {
  if (!starts_with(key, prefix)) return std::nullopt;
  return std::stoi(key.substr(prefix.size()));
}

class Goldens : public ::testing::TestWithParam<BackendKind> {
 protected:
  model::ModelOptions options() const {
    model::ModelOptions o;
    o.backend = GetParam();
    return o;
  }
};

// ---- OpenAI clip/model.py goldens -------------------------------------------------------------

void run_openai_golden(const std::string& name, const std::string& model_dir,
                       const model::ModelOptions& opts) {
  const std::string path = kData + "/goldens/" + name + ".safetensors";
  const auto g = io::SafetensorsFile::open(path);
  const ClipModel m = ClipModel::load(kData + "/models/" + model_dir, opts);
  std::printf("  %s on %s (max|a-b|/max|b|)\n", name.c_str(), m.backend().name());

  model::TextOptions to;
  to.output_hidden_states = true;
  const model::TextOutputs t = m.encode_text(g.get("input_ids"), to);
  model::VisionOptions vo;
  vo.output_hidden_states = true;
  const model::VisionOutputs v = m.encode_image(g.get("pixel_values"), vo);
  const Tensor logits = m.logits_per_image(v.embeds, t.embeds);
  const int layers = m.config().text->layers;

  for (const std::string& key : g.names()) {
    if (key == "input_ids" || key == "pixel_values") continue;
    std::string base = key;
    const bool f64 = key.size() > 4 && key.substr(key.size() - 4) == ".f64";
    if (f64) base = key.substr(0, key.size() - 4);
    std::optional<Tensor> got;
    if (auto i = suffix_index(base, "text_hidden.")) got = t.hidden_states.at(*i);
    else if (base == "text_ln_final") got = t.last_hidden_state;
    else if (base == "text_penultimate_ln_final")
      got = m.text().final_layer_norm(m.backend(), t.hidden_states.at(layers - 1));
    else if (base == "text_pooled") got = t.pooled;
    else if (base == "text_embeds") got = t.embeds;
    else if (base == "text_eot_index") got = t.pool_index;
    else if (base == "image_embeds") got = v.embeds;
    else if (base == "logits_per_image") got = logits;
    else if (base == "logits_per_text") got = logits.transpose().contiguous();
    else if (base == "vision_patch_embeds") got = v.patch_embeds;
    else if (base == "vision_embeddings") got = v.embeddings;
    else if (base == "vision_ln_pre") got = v.hidden_states.at(0);
    else if (auto j = suffix_index(base, "vision_hidden.")) got = v.hidden_states.at(*j);
    else if (base == "vision_pooled") got = v.pooled;
    else if (base == "vision_stem") got = v.hidden_states.at(0);
    else if (auto s = suffix_index(base, "vision_layer")) got = v.hidden_states.at(*s);
    check_key(name, key, got, g.get(key));
  }
}

TEST_P(Goldens, OpenAITinyVit) { run_openai_golden("tiny_vit", "tiny_vit", options()); }
TEST_P(Goldens, OpenAITinyResNet) { run_openai_golden("tiny_rn", "tiny_rn", options()); }
TEST_P(Goldens, OpenAITinyVitFp16) { run_openai_golden("tiny_vit_fp16", "tiny_vit_fp16", options()); }

// ---- transformers CLIPModel goldens -----------------------------------------------------------

void run_hf_clip_golden(const std::string& name, const model::ModelOptions& opts) {
  const std::string dir = kData + "/hf/" + name;
  const auto g = io::SafetensorsFile::open(dir + "/goldens.safetensors");
  const ClipModel m = ClipModel::load(dir, opts);
  std::printf("  %s on %s (max|a-b|/max|b|)\n", name.c_str(), m.backend().name());

  model::TextOptions to;
  to.output_hidden_states = true;
  const model::TextOutputs t = m.encode_text(g.get("input_ids"), to);
  model::TextOptions masked;
  const Tensor mask = g.get("attention_mask");
  masked.attention_mask = &mask;
  const model::TextOutputs tm = m.encode_text(g.get("input_ids"), masked);
  model::VisionOptions vo;
  vo.output_hidden_states = true;
  const model::VisionOutputs v = m.encode_image(g.get("pixel_values"), vo);
  const Tensor logits = m.logits_per_image(v.embeds, t.embeds);

  for (const std::string& key : g.names()) {
    if (key == "input_ids" || key == "pixel_values" || key == "attention_mask") continue;
    std::optional<Tensor> got;
    if (auto i = suffix_index(key, "text.hidden_states.")) got = t.hidden_states.at(*i);
    else if (key == "text.last_hidden_state") got = t.last_hidden_state;
    else if (key == "text.pooler_output") got = t.embeds;  // projected in transformers 5
    else if (key == "text_embeds") got = m.normalize(t.embeds);
    else if (auto j = suffix_index(key, "vision.hidden_states.")) got = v.hidden_states.at(*j);
    else if (key == "vision.last_hidden_state") got = v.last_hidden_state;
    else if (key == "vision.pooler_output") got = v.embeds;
    else if (key == "image_embeds") got = m.normalize(v.embeds);
    else if (key == "logits_per_image") got = logits;
    else if (key == "logits_per_text") got = logits.transpose().contiguous();
    else if (key == "text_masked.last_hidden_state") got = tm.last_hidden_state;
    else if (key == "text_masked.pooler_output") got = tm.pooled;
    check_key(name, key, got, g.get(key));
  }
}

TEST_P(Goldens, HfTinyOpenAI) { run_hf_clip_golden("hf_tiny_openai", options()); }
TEST_P(Goldens, HfTinyLaion) { run_hf_clip_golden("hf_tiny_laion", options()); }

// ---- diffusers SDXL text encoders -------------------------------------------------------------

TEST_P(Goldens, HfTinySdxl) {
  const std::string dir = kData + "/hf/hf_tiny_sdxl";
  const auto g = io::SafetensorsFile::open(dir + "/goldens.safetensors");
  const ClipModel e1 = ClipModel::load(dir + "/text_encoder", options());
  const ClipModel e2 = ClipModel::load(dir + "/text_encoder_2", options());
  std::printf("  hf_tiny_sdxl on %s (max|a-b|/max|b|)\n", e1.backend().name());
  model::TextOptions to;
  to.output_hidden_states = true;
  const model::TextOutputs t1 = e1.encode_text(g.get("input_ids_1"), to);
  const model::TextOutputs t2 = e2.encode_text(g.get("input_ids_2"), to);
  // SD 1.x "CLIP skip": stop one block early; last_hidden_state is then ln_final of that state.
  model::TextOptions skip;
  skip.layers = -1;
  const model::TextOutputs t1_skip = e1.encode_text(g.get("input_ids_1"), skip);
  const auto& h1 = t1.hidden_states;
  const auto& h2 = t2.hidden_states;
  const size_t n1 = h1.size(), n2 = h2.size();

  for (const std::string& key : g.names()) {
    if (starts_with(key, "input_ids")) continue;
    std::optional<Tensor> got;
    if (auto i = suffix_index(key, "enc1.hidden_states.")) got = h1.at(*i);
    else if (auto j = suffix_index(key, "enc2.hidden_states.")) got = h2.at(*j);
    else if (key == "enc1.last_hidden_state" || key == "sd15.prompt_embeds") got = t1.last_hidden_state;
    else if (key == "enc1.pooler_output") got = t1.pooled;
    else if (key == "enc2.last_hidden_state") got = t2.last_hidden_state;
    else if (key == "enc2.text_embeds" || key == "sdxl.pooled_prompt_embeds") got = t2.embeds;
    else if (key == "sdxl.prompt_embeds") got = concat_last(h1[n1 - 2], h2[n2 - 2]);
    else if (key == "sdxl_clipskip1.prompt_embeds") got = concat_last(h1[n1 - 3], h2[n2 - 3]);
    else if (key == "sd15_clipskip1.prompt_embeds") got = t1_skip.last_hidden_state;
    check_key("hf_tiny_sdxl", key, got, g.get(key));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Goldens, ::testing::Values(BackendKind::kRef, BackendKind::kCpu),
                         [](const ::testing::TestParamInfo<BackendKind>& i) {
                           return std::string(model::backend_kind_name(i.param));
                         });

}  // namespace
}  // namespace clipkit
