// Quantised checkpoints on the file side: the int8 per-row scheme against its definition (computed
// here independently), f16/bf16 rounding against core/dtype.h, save + reload of every fixture model
// in every layout and as one .safetensors, and malformed files refused with clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/checkpoint_info.h"
#include "io/quantize.h"
#include "io/safetensors.h"
#include "testing.h"

namespace clipkit {
namespace {

namespace fs = std::filesystem;
const std::string kData = CLIPKIT_TEST_DATA;

Tensor randn(Shape shape, uint32_t seed, float sd = 0.05f) {
  Tensor t = Tensor::empty(DType::F32, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

// The scheme of io/quantize.h written out independently: scale = max|w| / 127 in float32 (1 for
// a zero row); the nearest integer to w / scale, clamped to [-127, 127].
void expect_int8_scheme(const Tensor& original, const Tensor& q, const Tensor& scale,
                        const std::string& what) {
  const Tensor w = original.to(DType::F32);
  const Tensor qc = q.contiguous(), sc = scale.contiguous();
  ASSERT_EQ(q.dtype(), DType::I8) << what;
  ASSERT_EQ(scale.dtype(), DType::F32) << what;
  ASSERT_EQ(q.shape(), w.shape()) << what;
  ASSERT_EQ(scale.shape(), (Shape{w.dim(0)})) << what;
  const int64_t rows = w.dim(0), cols = w.dim(1);
  int bad = 0;
  for (int64_t n = 0; n < rows && bad < 5; ++n) {
    const float* row = w.data<float>() + n * cols;
    float m = 0.0f;
    for (int64_t k = 0; k < cols; ++k) m = std::max(m, std::fabs(row[k]));
    const float want_scale = m > 0.0f ? m / 127.0f : 1.0f;
    const float s = sc.data<float>()[n];
    if (s != want_scale) {
      ADD_FAILURE() << what << " row " << n << ": scale " << s << ", expected " << want_scale;
      ++bad;
      continue;
    }
    for (int64_t k = 0; k < cols; ++k) {
      const int qv = qc.data<int8_t>()[n * cols + k];
      // Within half a step of the original, and never beyond the symmetric range.
      const double err = std::fabs(double(qv) * double(s) - double(row[k]));
      if (err > double(s) / 2 || qv < -127) {
        ADD_FAILURE() << what << " [" << n << ", " << k << "]: w = " << row[k] << ", q = " << qv
                      << ", scale = " << s << ", error " << err;
        ++bad;
        break;
      }
    }
  }
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0;
}

// ---- the scheme on single tensors ----------------------------------------------------------

TEST(QuantizeInt8, RowsFollowTheScheme) {
  // Odd sizes, an all-zero row, a row with one huge outlier, a row of one repeated value, a row
  // with values on exact half steps (ties go to even), a strided (transposed) input.
  Tensor w = randn({37, 53}, 1);
  float* p = w.data<float>();
  for (int k = 0; k < 53; ++k) p[3 * 53 + k] = 0.0f;
  p[5 * 53 + 17] = 1000.0f;
  for (int k = 0; k < 53; ++k) p[7 * 53 + k] = -0.25f;
  // Row 9: max 63.5 gives scale 0.5 exactly, so 0.25, 0.75, 1.25, -0.75 lie on half steps.
  for (int k = 0; k < 53; ++k) p[9 * 53 + k] = 0.0f;
  p[9 * 53 + 0] = 63.5f;
  p[9 * 53 + 1] = 0.25f;
  p[9 * 53 + 2] = 0.75f;
  p[9 * 53 + 3] = 1.25f;
  p[9 * 53 + 4] = -0.75f;
  w.set_name("w");
  const io::Int8Rows r = io::quantize_int8_rows(w);
  expect_int8_scheme(w, r.q, r.scale, "f32");
  EXPECT_EQ(r.scale.data<float>()[3], 1.0f);
  for (int k = 0; k < 53; ++k) EXPECT_EQ(r.q.data<int8_t>()[3 * 53 + k], 0);
  EXPECT_EQ(r.q.data<int8_t>()[5 * 53 + 17], 127);
  for (int k = 0; k < 53; ++k) EXPECT_EQ(r.q.data<int8_t>()[7 * 53 + k], -127);
  EXPECT_EQ(r.scale.data<float>()[9], 0.5f);
  const int8_t* q9 = r.q.data<int8_t>() + 9 * 53;
  EXPECT_EQ(q9[0], 127);
  EXPECT_EQ(q9[1], 0);  // ties to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -1.5 -> -2
  EXPECT_EQ(q9[2], 2);
  EXPECT_EQ(q9[3], 2);
  EXPECT_EQ(q9[4], -2);

  const Tensor t = w.transpose();
  const io::Int8Rows rt = io::quantize_int8_rows(t);
  expect_int8_scheme(t, rt.q, rt.scale, "transposed f32");

  for (DType d : {DType::F16, DType::BF16}) {
    const Tensor h = w.to(d);
    const io::Int8Rows rh = io::quantize_int8_rows(h);
    expect_int8_scheme(h, rh.q, rh.scale, std::string(dtype_name(d)));
  }
  const Tensor back = io::dequantize_int8_rows(r.q, r.scale);
  for (int64_t i = 0; i < back.numel(); ++i)
    EXPECT_EQ(back.data<float>()[i],
              float(r.q.data<int8_t>()[i]) * r.scale.data<float>()[i / 53]);
}

TEST(QuantizeInt8, RefusesNonFiniteAndNon2D) {
  Tensor w = randn({4, 8}, 2);
  w.set_name("blk.w");
  w.data<float>()[13] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_ERROR(io::quantize_int8_rows(w), "'blk.w' holds nan at [1, 5]");
  w.data<float>()[13] = std::numeric_limits<float>::infinity();
  EXPECT_ERROR(io::quantize_int8_rows(w), "only finite weights");
  EXPECT_ERROR(io::quantize_int8_rows(randn({8}, 3)), "needs a 2-D");
  EXPECT_ERROR(io::quantize_int8_rows(Tensor::zeros(DType::I32, {2, 2})), "only float weights");
}

TEST(Quantize16Bit, MatchesDtypeConversionsAndRefusesOverflow) {
  Tensor w = randn({300}, 4, 3.0f);
  w.data<float>()[0] = 65504.0f;   // the largest f16
  w.data<float>()[1] = 65519.0f;   // rounds down to it
  w.data<float>()[2] = 1e-8f;      // f16 subnormal range
  w.data<float>()[3] = -3e-39f;    // float32 subnormal
  w.data<float>()[4] = 0.1f;
  const Tensor h = io::round_to_16bit(w, DType::F16);
  const Tensor b = io::round_to_16bit(w, DType::BF16);
  ASSERT_EQ(h.dtype(), DType::F16);
  ASSERT_EQ(b.dtype(), DType::BF16);
  for (int64_t i = 0; i < w.numel(); ++i) {
    EXPECT_EQ(h.data<uint16_t>()[i], f32_to_f16(w.data<float>()[i])) << i;
    EXPECT_EQ(b.data<uint16_t>()[i], f32_to_bf16(w.data<float>()[i])) << i;
  }
  EXPECT_EQ(h.data<uint16_t>()[4], 0x2e66);  // 0.1 in f16, as torch.tensor(0.1).half()
  EXPECT_EQ(b.data<uint16_t>()[4], 0x3dcd);  // 0.1 in bf16
  w.set_name("big");
  w.data<float>()[5] = 70000.0f;
  EXPECT_ERROR(io::round_to_16bit(w, DType::F16), "'big' holds 70000");
  EXPECT_NO_THROW(io::round_to_16bit(w, DType::BF16));
  EXPECT_EQ(io::parse_quantize_target("bf16"), io::QuantizeTarget::kBF16);
  EXPECT_ERROR(io::parse_quantize_target("int4"), "unknown quantisation 'int4' (int8, f16 or bf16)");
}

TEST(QuantizeInt8, WhichWeights) {
  EXPECT_TRUE(io::is_int8_weight_name("text.blocks.0.attn.q_proj.weight"));
  EXPECT_TRUE(io::is_int8_weight_name("vision.blocks.11.attn.out_proj.weight"));
  EXPECT_TRUE(io::is_int8_weight_name("vision.blocks.3.mlp.fc2.weight"));
  EXPECT_FALSE(io::is_int8_weight_name("text.blocks.0.attn.q_proj.bias"));
  EXPECT_FALSE(io::is_int8_weight_name("text.blocks.0.ln_1.weight"));
  EXPECT_FALSE(io::is_int8_weight_name("vision.attnpool.q_proj.weight"));
  EXPECT_FALSE(io::is_int8_weight_name("vision.patch_embed"));
  EXPECT_FALSE(io::is_int8_weight_name("text.projection"));
  EXPECT_FALSE(io::is_int8_weight_name("vision.layer1.0.conv1.weight"));
}

// ---- whole fixture models ------------------------------------------------------------------

struct Model {
  const char* name;
  const char* path;  // below tests/data
  int int8_weights;  // 6 per transformer block
};
void PrintTo(const Model& m, std::ostream* os) { *os << m.name; }

class QuantizeModels : public ::testing::TestWithParam<Model> {};

// Checks a reloaded int8 checkpoint against the float original it was made from.
void expect_int8_checkpoint(const io::Checkpoint& orig, const io::Checkpoint& q, int int8_weights,
                            const std::string& what) {
  int n_int8 = 0;
  for (const auto& [name, t] : orig.params) {
    auto it = q.params.find(name);
    ASSERT_NE(it, q.params.end()) << what << ": " << name;
    if (io::is_int8_weight_name(name)) {
      ++n_int8;
      auto s = q.params.find(io::scale_name(name));
      ASSERT_NE(s, q.params.end()) << what << ": no scale for " << name;
      expect_int8_scheme(t, it->second, s->second, what + " " + name);
    } else {
      EXPECT_TRUE(bit_equal(it->second, t)) << what << ": " << name << " changed";
    }
  }
  EXPECT_EQ(n_int8, int8_weights) << what;
  EXPECT_EQ(q.params.size(), orig.params.size() + size_t(int8_weights)) << what;
  EXPECT_EQ(q.parameter_count(), orig.parameter_count()) << what;
}

TEST_P(QuantizeModels, Int8SaveReloadEveryWay) {
  const Model m = GetParam();
  const io::Checkpoint orig = io::load_checkpoint(kData + "/" + m.path);
  io::QuantizeSummary s;
  const io::Checkpoint q = io::quantize_checkpoint(orig, io::QuantizeTarget::kInt8, &s);
  expect_int8_checkpoint(orig, q, m.int8_weights, "in memory");
  EXPECT_EQ(s.converted, m.int8_weights);
  EXPECT_EQ(s.scales_added, m.int8_weights);
  EXPECT_EQ(s.kept, int64_t(orig.params.size()) - m.int8_weights);
  EXPECT_LT(s.bytes_after, s.bytes_before);
  const bool f16 = orig.params.begin()->second.dtype() == DType::F16;
  EXPECT_EQ(q.metadata.at("quantization"), f16 ? "int8+f16" : "int8");

  // Its own layout as a folder, then as one file with the config inside (in a folder without a
  // config, so the embedded one is the only one there is).
  const io::Layout own = orig.layout == io::Layout::kSDSingleFile ? io::Layout::kHF : orig.layout;
  const std::string folder = test_util::temp_path("folder");
  io::save_checkpoint(q, folder, own);
  const io::Checkpoint r1 = io::load_checkpoint(folder);
  expect_int8_checkpoint(orig, r1, m.int8_weights, "reloaded folder");
  EXPECT_EQ(r1.metadata.at("quantization"), q.metadata.at("quantization"));
  EXPECT_NE(r1.metadata.at("quantization.int8").find("max_k |w[n,k]| / 127"), std::string::npos);
  const std::string file = test_util::temp_path("single") + "/model-int8.safetensors";
  io::save_checkpoint(q, file, own);
  const io::Checkpoint r2 = io::load_checkpoint(file);
  EXPECT_EQ(r2.config_source, "config in the file's metadata");
  expect_int8_checkpoint(orig, r2, m.int8_weights, "reloaded single file");
  ASSERT_EQ(r2.config.text.has_value(), orig.config.text.has_value());
  ASSERT_EQ(r2.config.vision.has_value(), orig.config.vision.has_value());
  if (r2.config.text) {
    EXPECT_EQ(r2.config.text->heads, orig.config.text->heads);
  }
  if (r2.config.vision) {
    EXPECT_EQ(r2.config.vision->heads, orig.config.vision->heads);
  }

  // The other layout where it can express the model (both towers, ViT): the scales must follow
  // the fused in_proj of OpenAI names and the separate q/k/v of transformers names.
  if (orig.config.text && orig.config.vision && orig.config.vision->kind == io::VisionKind::kViT) {
    const io::Layout other = own == io::Layout::kOpenAI ? io::Layout::kHF : io::Layout::kOpenAI;
    const std::string f2 = test_util::temp_path("other");
    io::save_checkpoint(q, f2, other);
    const io::Checkpoint r3 = io::load_checkpoint(f2);
    expect_int8_checkpoint(orig, r3, m.int8_weights, "reloaded in the other layout");
  }
}

TEST_P(QuantizeModels, F16AndBF16MatchDtypeConversions) {
  const Model m = GetParam();
  const io::Checkpoint orig = io::load_checkpoint(kData + "/" + m.path);
  for (io::QuantizeTarget to : {io::QuantizeTarget::kF16, io::QuantizeTarget::kBF16}) {
    const DType d = to == io::QuantizeTarget::kF16 ? DType::F16 : DType::BF16;
    const io::Checkpoint q = io::quantize_checkpoint(orig, to);
    const std::string folder = test_util::temp_path(io::quantize_target_name(to));
    io::save_checkpoint(q, folder, orig.layout == io::Layout::kSDSingleFile ? io::Layout::kHF : orig.layout);
    const io::Checkpoint r = io::load_checkpoint(folder);
    EXPECT_EQ(r.metadata.at("quantization"), io::quantize_target_name(to));
    ASSERT_EQ(r.params.size(), orig.params.size());
    for (const auto& [name, t] : orig.params) {
      const Tensor& got = r.params.at(name);
      ASSERT_EQ(got.dtype(), d) << name;
      const Tensor src = t.to(DType::F32), g = got.contiguous();
      for (int64_t i = 0; i < src.numel(); ++i) {
        const float x = src.data<float>()[i];
        const uint16_t want = d == DType::F16 ? f32_to_f16(x) : f32_to_bf16(x);
        if (g.data<uint16_t>()[i] != want) {
          ADD_FAILURE() << name << "[" << i << "] = " << x << ": got " << g.data<uint16_t>()[i]
                        << ", expected " << want;
          break;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, QuantizeModels,
    ::testing::Values(Model{"tiny_vit", "models/tiny_vit", 36}, Model{"tiny_rn", "models/tiny_rn", 18},
                      Model{"tiny_vit_fp16", "models/tiny_vit_fp16", 36},
                      Model{"hf_tiny_openai", "hf/hf_tiny_openai", 36},
                      Model{"hf_tiny_laion", "hf/hf_tiny_laion", 36},
                      Model{"hf_tiny_sdxl_te", "hf/hf_tiny_sdxl/text_encoder", 24},
                      Model{"hf_tiny_sdxl_te2", "hf/hf_tiny_sdxl/text_encoder_2", 24}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(QuantizeCheckpoint, Int8ThenF16KeepsInt8AndScales) {
  const io::Checkpoint orig = io::load_checkpoint(kData + "/models/tiny_vit");
  const io::Checkpoint q = io::quantize_checkpoint(orig, io::QuantizeTarget::kInt8);
  io::QuantizeSummary s;
  const io::Checkpoint again = io::quantize_checkpoint(q, io::QuantizeTarget::kInt8, &s);
  EXPECT_EQ(s.converted, 0);
  const io::Checkpoint h = io::quantize_checkpoint(q, io::QuantizeTarget::kF16);
  EXPECT_EQ(h.metadata.at("quantization"), "int8+f16");
  for (const auto& [name, t] : h.params) {
    if (io::is_int8_weight_name(name)) {
      EXPECT_TRUE(bit_equal(t, q.params.at(name))) << name;
    } else if (name.size() > 13 && name.compare(name.size() - 13, 13, ".weight_scale") == 0) {
      EXPECT_TRUE(bit_equal(t, q.params.at(name))) << name << ": scales stay F32";
    } else {
      EXPECT_EQ(t.dtype(), DType::F16) << name;
    }
  }
  const std::string folder = test_util::temp_path("h");
  io::save_checkpoint(h, folder, io::Layout::kOpenAI);
  const io::Checkpoint r = io::load_checkpoint(folder);
  for (const auto& [name, t] : h.params) EXPECT_TRUE(bit_equal(r.params.at(name), t)) << name;
}

TEST(QuantizeCheckpoint, InfoShowsTheQuantisation) {
  const io::Checkpoint orig = io::load_checkpoint(kData + "/models/tiny_vit");
  const std::string folder = test_util::temp_path("q");
  io::save_checkpoint(io::quantize_checkpoint(orig, io::QuantizeTarget::kInt8), folder,
                      io::Layout::kOpenAI);
  const io::Checkpoint r = io::load_checkpoint(folder);
  const auto j = nlohmann::json::parse(io::checkpoint_summary_json(r));
  EXPECT_EQ(j["quantization"], "int8");
  EXPECT_EQ(j["int8_weights"], 36);
  EXPECT_EQ(j["dtypes"]["I8"], 36);
  EXPECT_EQ(j["dtypes"]["F32"], 110 - 36 + 36);  // the float tensors left plus the scales
  EXPECT_EQ(j["parameters"], 1718705);
  const std::string text = io::checkpoint_summary_text(r);
  EXPECT_NE(text.find("quantization: int8\n"), std::string::npos) << text;
  EXPECT_NE(text.find("int8_weights: 36\n"), std::string::npos) << text;
  const auto plain = nlohmann::json::parse(io::checkpoint_summary_json(orig));
  EXPECT_EQ(plain["quantization"], "none");
}

// ---- malformed files -----------------------------------------------------------------------

// tiny_vit's OpenCLIP folder with its tensors edited by `edit`, in a new folder.
std::string edited_tiny_vit(const std::string& dir,
                            const std::function<void(std::map<std::string, Tensor>&)>& edit) {
  const auto f = io::SafetensorsFile::open(kData + "/models/tiny_vit/open_clip_model.safetensors");
  std::map<std::string, Tensor> t;
  for (const std::string& n : f.names()) t[n] = f.get(n);
  edit(t);
  fs::create_directories(dir);
  fs::copy_file(kData + "/models/tiny_vit/open_clip_config.json", dir + "/open_clip_config.json");
  io::write_safetensors(dir + "/open_clip_model.safetensors", {t.begin(), t.end()});
  return dir;
}

// Replaces file tensor `name` by its int8 form and adds `name`_scale.
void make_int8(std::map<std::string, Tensor>& t, const std::string& name) {
  io::Int8Rows r = io::quantize_int8_rows(t.at(name));
  t[name] = r.q;
  t[name + "_scale"] = r.scale;
}

TEST(QuantizeMalformed, LoaderRefusesNonsense) {
  const std::string w = "visual.transformer.resblocks.1.attn.in_proj_weight";
  const std::string fc = "transformer.resblocks.0.mlp.c_fc.weight";
  const std::string ok = edited_tiny_vit(test_util::temp_path("ok"), [&](auto& t) {
    make_int8(t, w);
    make_int8(t, fc);
  });
  const io::Checkpoint c = io::load_checkpoint(ok);
  EXPECT_EQ(c.params.at("vision.blocks.1.attn.k_proj.weight").dtype(), DType::I8);
  EXPECT_EQ(c.params.at("vision.blocks.1.attn.k_proj.weight_scale").shape(), (Shape{48}));
  EXPECT_EQ(c.params.at("text.blocks.0.mlp.fc1.weight_scale").shape(), (Shape{128}));
  EXPECT_EQ(c.params.at("text.blocks.0.mlp.fc2.weight").dtype(), DType::F32);

  const std::string no_scale = edited_tiny_vit(test_util::temp_path("no_scale"), [&](auto& t) {
    make_int8(t, w);
    t.erase(w + "_scale");
  });
  EXPECT_ERROR(io::load_checkpoint(no_scale),
               "int8 weight '" + w + "' has no scale tensor '" + w + "_scale' (F32 [144]");

  const std::string bad_shape = edited_tiny_vit(test_util::temp_path("bad_shape"), [&](auto& t) {
    make_int8(t, w);
    t[w + "_scale"] = t[w + "_scale"].slice(0, 0, 48).contiguous();
  });
  EXPECT_ERROR(io::load_checkpoint(bad_shape), "scale '" + w + "_scale' has shape [48] but int8 weight");

  const std::string bad_dtype = edited_tiny_vit(test_util::temp_path("bad_dtype"), [&](auto& t) {
    make_int8(t, fc);
    t[fc + "_scale"] = t[fc + "_scale"].to(DType::F16);
  });
  EXPECT_ERROR(io::load_checkpoint(bad_dtype), "has dtype F16; int8 scales must be F32");

  const std::string orphan = edited_tiny_vit(test_util::temp_path("orphan"), [&](auto& t) {
    t[fc + "_scale"] = Tensor::zeros(DType::F32, {128});
  });
  EXPECT_ERROR(io::load_checkpoint(orphan),
               "'" + fc + "_scale' is a scale without an int8 weight: '" + fc + "' is F32");

  const std::string stray = edited_tiny_vit(test_util::temp_path("stray"), [&](auto& t) {
    t["visual.proj_scale"] = Tensor::zeros(DType::F32, {48});
  });
  EXPECT_ERROR(io::load_checkpoint(stray),
               "'visual.proj_scale' is a scale without an int8 weight: 'visual.proj' is F32");
  const std::string lost = edited_tiny_vit(test_util::temp_path("lost"), [&](auto& t) {
    t["visual.transformer.resblocks.9.mlp.c_fc.weight_scale"] = Tensor::zeros(DType::F32, {192});
  });
  EXPECT_ERROR(io::load_checkpoint(lost),
               "unexpected 1: 'visual.transformer.resblocks.9.mlp.c_fc.weight_scale' [192]");

  const std::string not_linear = edited_tiny_vit(test_util::temp_path("not_linear"), [&](auto& t) {
    Tensor q = Tensor::zeros(DType::I8, t["token_embedding.weight"].shape());
    t["token_embedding.weight"] = q;
    t["token_embedding.weight_scale"] = Tensor::zeros(DType::F32, {49408});
  });
  EXPECT_ERROR(io::load_checkpoint(not_linear),
               "'token_embedding.weight' is I8, but only the linear weights of transformer blocks");
}

TEST(QuantizeMalformed, SaveRefusesInconsistentCheckpoints) {
  const io::Checkpoint orig = io::load_checkpoint(kData + "/models/tiny_vit");
  io::Checkpoint q = io::quantize_checkpoint(orig, io::QuantizeTarget::kInt8);
  io::Checkpoint missing = q;
  missing.params.erase("text.blocks.2.mlp.fc2.weight_scale");
  EXPECT_ERROR(io::save_checkpoint(missing, test_util::temp_path("a"), io::Layout::kOpenAI),
               "int8 weight 'text.blocks.2.mlp.fc2.weight' has no scale");
  EXPECT_FALSE(fs::exists(test_util::temp_path("a") + "/open_clip_model.safetensors"));
  io::Checkpoint orphan = q;
  orphan.params["text.blocks.2.mlp.fc2.weight"] = orig.params.at("text.blocks.2.mlp.fc2.weight");
  EXPECT_ERROR(io::save_checkpoint(orphan, test_util::temp_path("b"), io::Layout::kHF),
               "'text.blocks.2.mlp.fc2.weight_scale' is a scale without an int8 weight");
  io::Checkpoint mixed = q;  // q int8 but k float: the fused in_proj cannot hold both
  mixed.params["vision.blocks.0.attn.k_proj.weight"] = orig.params.at("vision.blocks.0.attn.k_proj.weight");
  EXPECT_ERROR(io::save_checkpoint(mixed, test_util::temp_path("c"), io::Layout::kOpenAI), "in dtype or shape");
}

}  // namespace
}  // namespace clipkit
