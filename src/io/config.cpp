// Names of the config enums and the consistency check every config passes before use.
#include "io/config.h"

#include "core/error.h"

namespace clipkit::io {

const char* activation_name(Activation a) {
  return a == Activation::kQuickGelu ? "quick_gelu" : "gelu";
}
const char* pooling_name(TextPooling p) {
  return p == TextPooling::kArgmax ? "argmax" : "first_eot";
}
const char* resize_mode_name(ResizeMode m) {
  switch (m) {
    case ResizeMode::kShortest: return "shortest";
    case ResizeMode::kLongest: return "longest";
    case ResizeMode::kSquash: return "squash";
  }
  return "?";
}

namespace {

void check_positive(const std::string& model, const char* field, int v) {
  CLIPKIT_CHECK(v > 0, model, ": ", field, " must be positive, got ", v);
}

void check_heads(const std::string& model, const char* tower, int width, int heads) {
  CLIPKIT_CHECK(heads > 0, model, ": ", tower, " heads must be positive, got ", heads);
  CLIPKIT_CHECK(width % heads == 0, model, ": ", tower, " heads (", heads,
                ") do not divide the width (", width, ")");
}

}  // namespace

void validate_config(const ModelConfig& c) {
  const std::string& m = c.name.empty() ? std::string("model config") : c.name;
  CLIPKIT_CHECK(c.text || c.vision, m, ": neither a text nor a vision tower");
  if (c.text) {
    const TextConfig& t = *c.text;
    check_positive(m, "text vocab_size", t.vocab_size);
    check_positive(m, "text context_length", t.context_length);
    check_positive(m, "text width", t.width);
    check_positive(m, "text layers", t.layers);
    check_positive(m, "text mlp_width", t.mlp_width);
    check_heads(m, "text", t.width, t.heads);
    // Only first-EOT pooling looks the id up; argmax pooling never uses it.
    CLIPKIT_CHECK(t.pooling == TextPooling::kArgmax ||
                      (t.eot_token_id >= 0 && t.eot_token_id < t.vocab_size),
                  m, ": text eot_token_id ", t.eot_token_id, " is outside the vocabulary of ",
                  t.vocab_size);
    CLIPKIT_CHECK(t.ln_eps > 0 && t.ln_eps < 1, m, ": text layer_norm_eps ", t.ln_eps,
                  " is not in (0, 1)");
    if (t.has_projection) check_positive(m, "embed_dim", c.embed_dim);
  }
  if (c.vision) {
    const VisionConfig& v = *c.vision;
    check_positive(m, "vision image_size", v.image_size);
    check_positive(m, "vision width", v.width);
    CLIPKIT_CHECK(v.ln_eps > 0 && v.ln_eps < 1, m, ": vision layer_norm_eps ", v.ln_eps,
                  " is not in (0, 1)");
    if (v.kind == VisionKind::kViT) {
      check_positive(m, "vision patch_size", v.patch_size);
      check_positive(m, "vision layers", v.layers);
      check_positive(m, "vision mlp_width", v.mlp_width);
      check_heads(m, "vision", v.width, v.heads);
      CLIPKIT_CHECK(v.image_size % v.patch_size == 0, m, ": vision image_size ", v.image_size,
                    " is not a multiple of patch_size ", v.patch_size);
      if (v.has_projection) check_positive(m, "embed_dim", c.embed_dim);
    } else {
      for (int i = 0; i < 4; ++i)
        CLIPKIT_CHECK(v.resnet_layers[i] > 0, m, ": ResNet stage ", i + 1,
                      " must have at least one block, got ", v.resnet_layers[i]);
      CLIPKIT_CHECK(v.width % 2 == 0, m, ": ResNet stem width ", v.width, " must be even");
      check_heads(m, "vision attention-pool", v.width * 32, v.heads);
      CLIPKIT_CHECK(v.image_size % 32 == 0, m, ": ResNet image_size ", v.image_size,
                    " is not a multiple of 32");
      CLIPKIT_CHECK(v.has_projection, m, ": a ModifiedResNet always has its attention-pool projection");
      check_positive(m, "embed_dim", c.embed_dim);
    }
  }
  const PreprocessConfig& p = c.preprocess;
  check_positive(m, "preprocess size", p.size);
  check_positive(m, "preprocess crop_size", p.crop_size);
  for (int i = 0; i < 3; ++i)
    CLIPKIT_CHECK(p.std[i] > 0, m, ": preprocess std[", i, "] must be positive, got ", p.std[i]);
  CLIPKIT_CHECK(p.resample == "bicubic" || p.resample == "bilinear" || p.resample == "nearest" ||
                    p.resample == "lanczos" || p.resample == "box" || p.resample == "hamming",
                m, ": unknown preprocess interpolation '", p.resample, "'");
  CLIPKIT_CHECK(p.fill_color >= 0 && p.fill_color <= 255, m, ": preprocess fill_color ",
                p.fill_color, " is not in 0..255");
}

}  // namespace clipkit::io
