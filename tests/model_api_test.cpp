// The model-level API beyond the goldens: weights used in place or converted once, errors that
// name the tensor at fault, options (CLIP skip, ln_final on hidden states, padding masks), batch
// independence, workspace reuse and pooling rules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/clip_model.h"
#include "model/vit_encoder.h"

namespace clipkit {
namespace {

using model::ClipModel;

const std::string kData = CLIPKIT_TEST_DATA;

double rel_err(const Tensor& got, const Tensor& want) {
  const Tensor a = got.to(DType::F64), b = want.to(DType::F64);
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    num = std::max(num, std::fabs(a.data<double>()[i] - b.data<double>()[i]));
    den = std::max(den, std::fabs(b.data<double>()[i]));
  }
  return den == 0 ? num : num / den;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor x = a.contiguous(), y = b.contiguous();
  return x.shape() == y.shape() && std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0;
}

Tensor golden(const std::string& file, const std::string& key) {
  return io::SafetensorsFile::open(kData + "/" + file).get(key);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelApi, Float32WeightsAreUsedInPlace) {
  const io::Checkpoint ck = io::load_checkpoint(kData + "/models/tiny_vit");
  const ClipModel m = ClipModel::from_checkpoint(ck);
  const model::TextParams& tp = m.text().params();
  // The projection is the transposed [W, E] file tensor, read in place.
  EXPECT_EQ(tp.projection.raw(), ck.params.at("text.projection").raw());
  EXPECT_FALSE(tp.projection.is_contiguous());
  EXPECT_EQ(tp.blocks[1].k.weight.raw(), ck.params.at("text.blocks.1.attn.k_proj.weight").raw());
  // OpenAI's fused in_proj rows are adjacent, so q/k/v share one GEMM.
  EXPECT_TRUE(tp.blocks[0].qkv.weight.defined());
  EXPECT_EQ(tp.blocks[0].qkv.weight.raw(), ck.params.at("text.blocks.0.attn.q_proj.weight").raw());
  EXPECT_EQ(tp.blocks[0].qkv.weight.shape(), Shape({96, 32}));
}

TEST(ModelApi, SeparateQkvTensorsAreNotFused) {
  const io::Checkpoint ck = io::load_checkpoint(kData + "/hf/hf_tiny_openai");
  const ClipModel m = ClipModel::from_checkpoint(ck);
  const model::BlockParams& b = m.text().params().blocks[0];
  EXPECT_EQ(b.q.weight.raw(), ck.params.at("text.blocks.0.attn.q_proj.weight").raw());
  // Only fused when the file happens to store them back to back.
  const char* q = static_cast<const char*>(b.q.weight.raw());
  const char* k = static_cast<const char*>(b.k.weight.raw());
  EXPECT_EQ(b.qkv.weight.defined(), k == q + b.q.weight.nbytes() &&
                                        b.v.weight.raw() == k + b.k.weight.nbytes() &&
                                        b.k.bias.raw() == static_cast<const char*>(b.q.bias.raw()) + b.q.bias.nbytes() &&
                                        b.v.bias.raw() == static_cast<const char*>(b.k.bias.raw()) + b.k.bias.nbytes());
}

TEST(ModelApi, Float16WeightsStayHalfWhereTheKernelsReadThem) {
  const io::Checkpoint ck = io::load_checkpoint(kData + "/models/tiny_vit_fp16");
  ASSERT_EQ(ck.params.at("text.token_embedding").dtype(), DType::F16);
  const ClipModel m = ClipModel::from_checkpoint(ck);
  const model::TextParams& tp = m.text().params();
  // The big tensors keep their stored precision: the embedding gather and the linear kernels
  // widen them as they read.
  EXPECT_EQ(tp.token_embedding.dtype(), DType::F16);
  EXPECT_TRUE(tp.blocks[2].qkv.weight.defined());  // q, k, v share one fused [3W, W] weight
  EXPECT_EQ(tp.blocks[2].qkv.weight.dtype(), DType::F16);
  EXPECT_EQ(tp.blocks[2].v.weight.dtype(), DType::F16);
  EXPECT_EQ(tp.blocks[2].fc1.weight.dtype(), DType::F16);
  // The small rest is converted to float32 once, exactly.
  EXPECT_EQ(tp.projection.dtype(), DType::F32);
  const Tensor want = ck.params.at("text.ln_final.weight").to(DType::F32);
  EXPECT_TRUE(same_bits(tp.ln_final.weight, want));
  EXPECT_EQ(tp.blocks[2].fc1.bias.dtype(), DType::F32);
}

TEST(ModelApi, MissingOrMisshapenParameterIsNamed) {
  io::Checkpoint ck = io::load_checkpoint(kData + "/models/tiny_vit");
  io::Checkpoint missing = ck;
  missing.params.erase("vision.blocks.2.mlp.fc2.bias");
  const std::string e1 = error_of([&] { ClipModel::from_checkpoint(missing); });
  EXPECT_NE(e1.find("vision.blocks.2.mlp.fc2.bias"), std::string::npos) << e1;
  EXPECT_NE(e1.find("[48]"), std::string::npos) << e1;

  io::Checkpoint wrong = ck;
  wrong.params["text.ln_final.weight"] = Tensor::zeros(DType::F32, {31});
  const std::string e2 = error_of([&] { ClipModel::from_checkpoint(wrong); });
  EXPECT_NE(e2.find("text.ln_final.weight"), std::string::npos) << e2;
  EXPECT_NE(e2.find("[31]"), std::string::npos) << e2;
  EXPECT_NE(e2.find("expected [32]"), std::string::npos) << e2;

  io::Checkpoint ints = ck;
  ints.params["logit_scale"] = Tensor::zeros(DType::I32, {});
  const std::string e3 = error_of([&] { ClipModel::from_checkpoint(ints); });
  EXPECT_NE(e3.find("logit_scale"), std::string::npos) << e3;
}

TEST(ModelApi, BadInputsThrowNamedErrors) {
  const ClipModel m = ClipModel::load(kData + "/models/tiny_vit");
  Tensor ids = Tensor::zeros(DType::I32, {2, 77});
  ids.data<int32_t>()[77 + 5] = 49408;
  const std::string e1 = error_of([&] { m.encode_text(ids); });
  EXPECT_NE(e1.find("49408"), std::string::npos) << e1;
  EXPECT_NE(e1.find("row 1, position 5"), std::string::npos) << e1;
  EXPECT_NE(error_of([&] { m.encode_text(Tensor::zeros(DType::I32, {1, 78})); }), "");
  EXPECT_NE(error_of([&] { m.encode_text(Tensor::zeros(DType::F32, {1, 77})); }), "");
  EXPECT_NE(error_of([&] { m.encode_image(Tensor::zeros(DType::F32, {1, 3, 33, 33})); }).find("[N, 3, 32, 32]"),
            std::string::npos);
  model::TextOptions too_many;
  too_many.layers = 4;
  EXPECT_NE(error_of([&] { m.encode_text(Tensor::zeros(DType::I32, {1, 77}), too_many); }), "");

  const ClipModel text_only = ClipModel::load(kData + "/hf/hf_tiny_sdxl/text_encoder");
  EXPECT_NE(error_of([&] { text_only.encode_image(Tensor::zeros(DType::F32, {1, 3, 224, 224})); })
                .find("no image tower"),
            std::string::npos);
  EXPECT_NE(error_of([] { model::parse_backend_kind("gpu"); }), "");
}

TEST(ModelApi, ClipSkipAndLnFinalHiddenStates) {
  const ClipModel m = ClipModel::load(kData + "/models/tiny_vit");
  const Tensor ids = golden("goldens/tiny_vit.safetensors", "input_ids");
  model::TextOptions all;
  all.output_hidden_states = true;
  const auto full = m.encode_text(ids, all);
  ASSERT_EQ(full.hidden_states.size(), 4u);

  model::TextOptions skip;
  skip.layers = -1;
  const auto s = m.encode_text(ids, skip);
  EXPECT_TRUE(same_bits(s.last_hidden_state, m.text().final_layer_norm(m.backend(), full.hidden_states[2])));
  EXPECT_LE(rel_err(s.last_hidden_state, golden("goldens/tiny_vit.safetensors", "text_penultimate_ln_final")), 1e-5);
  model::TextOptions first2 = skip;
  first2.layers = 2;
  EXPECT_TRUE(same_bits(m.encode_text(ids, first2).last_hidden_state, s.last_hidden_state));

  model::TextOptions ln = all;
  ln.ln_final_hidden_states = true;
  const auto l = m.encode_text(ids, ln);
  for (size_t i = 0; i < l.hidden_states.size(); ++i)
    EXPECT_TRUE(same_bits(l.hidden_states[i], m.text().final_layer_norm(m.backend(), full.hidden_states[i])));
  // Without hidden states the results are the same.
  const auto plain = m.encode_text(ids);
  EXPECT_TRUE(plain.hidden_states.empty());
  EXPECT_TRUE(same_bits(plain.embeds, full.embeds));

  model::VisionOptions vskip;
  vskip.layers = -1;
  vskip.output_hidden_states = true;
  const auto v = m.encode_image(golden("goldens/tiny_vit.safetensors", "pixel_values"), vskip);
  ASSERT_EQ(v.hidden_states.size(), 3u);
  EXPECT_LE(rel_err(v.last_hidden_state, golden("goldens/tiny_vit.safetensors", "vision_hidden.2")), 1e-5);
}

TEST(ModelApi, AllOnesMaskEqualsNoMask) {
  for (auto kind : {model::BackendKind::kRef, model::BackendKind::kCpu}) {
    model::ModelOptions o;
    o.backend = kind;
    const ClipModel m = ClipModel::load(kData + "/hf/hf_tiny_laion", o);
    const Tensor ids = golden("hf/hf_tiny_laion/goldens.safetensors", "input_ids");
    Tensor ones = Tensor::empty(DType::I64, ids.shape());
    for (int64_t i = 0; i < ones.numel(); ++i) ones.data<int64_t>()[i] = 1;
    model::TextOptions masked;
    masked.attention_mask = &ones;
    EXPECT_TRUE(same_bits(m.encode_text(ids, masked).last_hidden_state, m.encode_text(ids).last_hidden_state));
  }
}

TEST(ModelApi, BatchRowsAreIndependent) {
  for (const char* dir : {"models/tiny_vit", "models/tiny_rn"}) {
    const ClipModel m = ClipModel::load(kData + "/" + dir);
    const std::string g = std::string("goldens/") + (std::string(dir) == "models/tiny_vit" ? "tiny_vit" : "tiny_rn") + ".safetensors";
    const Tensor ids = golden(g, "input_ids"), px = golden(g, "pixel_values");
    const auto t = m.encode_text(ids);
    const auto v = m.encode_image(px);
    for (int64_t i = 0; i < ids.dim(0); ++i) {
      const auto ti = m.encode_text(ids.slice(0, i, i + 1));
      EXPECT_LE(rel_err(ti.embeds, t.embeds.slice(0, i, i + 1)), 1e-6) << dir << " text row " << i;
    }
    for (int64_t i = 0; i < px.dim(0); ++i) {
      const auto vi = m.encode_image(px.slice(0, i, i + 1));
      EXPECT_LE(rel_err(vi.embeds, v.embeds.slice(0, i, i + 1)), 1e-6) << dir << " image " << i;
    }
  }
}

TEST(ModelApi, WorkspaceIsReusedAcrossPasses) {
  for (const std::string name : {"tiny_vit", "tiny_rn"}) {
    const ClipModel m = ClipModel::load(kData + "/models/" + name);
    const Tensor ids = golden("goldens/" + name + ".safetensors", "input_ids");
    const Tensor px = golden("goldens/" + name + ".safetensors", "pixel_values");
    ops::Workspace ws;
    const auto a = m.encode_text(ids, {}, ws);
    const auto b = m.encode_image(px, {}, ws);
    // The first passes grow the workspace; the next reset merges it into one block, after which
    // the same passes allocate nothing.
    size_t cap = 0;
    for (int rep = 0; rep < 4; ++rep) {
      const auto a2 = m.encode_text(ids, {}, ws);
      const auto b2 = m.encode_image(px, {}, ws);
      EXPECT_TRUE(same_bits(a2.embeds, a.embeds));
      EXPECT_TRUE(same_bits(b2.embeds, b.embeds));
      if (rep == 0) cap = ws.capacity_floats();
      EXPECT_EQ(ws.capacity_floats(), cap) << name;  // no new blocks after the first passes
    }
  }
}

TEST(ModelApi, PoolingRules) {
  const ClipModel argmax = ClipModel::load(kData + "/models/tiny_vit");         // OpenAI: argmax
  const ClipModel first_eot = ClipModel::load(kData + "/hf/hf_tiny_laion");     // eos 49407
  ASSERT_EQ(argmax.config().text->pooling, io::TextPooling::kArgmax);
  ASSERT_EQ(first_eot.config().text->pooling, io::TextPooling::kFirstEot);
  Tensor ids = Tensor::zeros(DType::I32, {3, 77});
  int32_t* p = ids.data<int32_t>();
  // Row 0: SOT, tokens, EOT at 4, another EOT at 9.
  p[0] = 49406, p[1] = 320, p[2] = 1125, p[3] = 539, p[4] = 49407, p[9] = 49407;
  // Row 1: no EOT at all; its largest id is at 3.
  p[77 + 0] = 320, p[77 + 3] = 40000, p[77 + 5] = 40000;
  // Row 2: SOT only; EOT at the very end.
  p[154 + 0] = 49406, p[154 + 76] = 49407;
  const Tensor a = argmax.text().pool_indices(ids), f = first_eot.text().pool_indices(ids);
  EXPECT_EQ(a.data<int64_t>()[0], 4);
  EXPECT_EQ(f.data<int64_t>()[0], 4);
  EXPECT_EQ(a.data<int64_t>()[1], 3);  // first maximum
  EXPECT_EQ(f.data<int64_t>()[1], 0);  // transformers' argmax over an all-false row
  EXPECT_EQ(a.data<int64_t>()[2], 76);
  EXPECT_EQ(f.data<int64_t>()[2], 76);
}

TEST(ModelApi, LogitsAreScaledCosines) {
  const ClipModel m = ClipModel::load(kData + "/models/tiny_vit");
  EXPECT_NEAR(std::exp(double(m.logit_scale())), 20.08553695678711, 1e-5);
  Tensor a = Tensor::zeros(DType::F32, {1, 24}), b = Tensor::zeros(DType::F32, {2, 24});
  a.data<float>()[0] = 3.0f;
  b.data<float>()[0] = 0.5f;       // same direction
  b.data<float>()[24 + 1] = -2.0f;  // orthogonal
  const Tensor l = m.logits_per_image(a, b);
  EXPECT_NEAR(l.data<float>()[0], 20.0855369f, 1e-4);
  EXPECT_NEAR(l.data<float>()[1], 0.0f, 1e-6);
}

}  // namespace
}  // namespace clipkit
