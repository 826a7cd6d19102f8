#include "io/checkpoint_info.h"

#include <map>
#include <sstream>

#include "io/json_util.h"

namespace clipkit::io {

using jsonu::json;

namespace {

// Tensors that are not parameters: BatchNorm statistics and the scales of int8 weights.
bool is_buffer(const std::string& n) {
  auto ends = [&](const char* x) {
    const std::string s(x);
    return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
  };
  return ends("running_mean") || ends("running_var") || ends(".weight_scale");
}

int64_t count_params(const Checkpoint& ck, const std::string& prefix) {
  int64_t n = 0;
  for (const auto& [k, t] : ck.params)
    if (k.rfind(prefix, 0) == 0 && !is_buffer(k)) n += t.numel();
  return n;
}

json summary(const Checkpoint& ck) {
  const ModelConfig& c = ck.config;
  json j;
  j["path"] = ck.path;
  j["layout"] = layout_name(ck.layout);
  j["weight_files"] = ck.weight_files;
  j["config_source"] = ck.config_source;
  j["parameters"] = ck.parameter_count();
  j["canonical_tensors"] = ck.params.size();
  std::map<std::string, int> dtypes;
  size_t bytes = 0;
  int int8_weights = 0;
  for (const auto& [k, t] : ck.params) {
    ++dtypes[std::string(dtype_name(t.dtype()))];
    bytes += t.nbytes();
    if (t.dtype() == DType::I8) ++int8_weights;
  }
  j["dtypes"] = dtypes;
  j["tensor_bytes"] = bytes;
  // How the weights were quantised: what `clipkit quantize` recorded in the file, else what the
  // dtypes show.
  auto q = ck.metadata.find("quantization");
  j["quantization"] = q != ck.metadata.end() ? q->second : int8_weights ? "int8" : "none";
  if (int8_weights) {
    j["int8_weights"] = int8_weights;
    auto d = ck.metadata.find("quantization.int8");
    if (d != ck.metadata.end()) j["int8_scheme"] = d->second;
  }
  j["embed_dim"] = c.embed_dim;
  if (c.text) {
    const TextConfig& t = *c.text;
    j["text"] = {{"width", t.width},
                 {"layers", t.layers},
                 {"heads", t.heads},
                 {"mlp_width", t.mlp_width},
                 {"vocab_size", t.vocab_size},
                 {"context_length", t.context_length},
                 {"activation", activation_name(t.activation)},
                 {"pooling", pooling_name(t.pooling)},
                 {"eot_token_id", t.eot_token_id},
                 {"layer_norm_eps", t.ln_eps},
                 {"projection", t.has_projection},
                 {"parameters", count_params(ck, "text.")}};
  }
  if (c.vision) {
    const VisionConfig& v = *c.vision;
    json vj = {{"kind", v.kind == VisionKind::kViT ? "vit" : "modified_resnet"},
               {"image_size", v.image_size},
               {"width", v.width},
               {"heads", v.heads},
               {"activation", activation_name(v.activation)},
               {"projection", v.has_projection},
               {"parameters", count_params(ck, "vision.")}};
    if (v.kind == VisionKind::kViT) {
      vj["patch_size"] = v.patch_size;
      vj["layers"] = v.layers;
      vj["mlp_width"] = v.mlp_width;
      vj["layer_norm_eps"] = v.ln_eps;
    } else {
      vj["stage_blocks"] = v.resnet_layers;
    }
    j["vision"] = vj;
  }
  if (!c.vision) return j;  // preprocessing only concerns image towers
  const PreprocessConfig& p = c.preprocess;
  j["preprocess"] = {{"profile", p.profile == PreprocessProfile::kOpenAI ? "openai" : "hf"},
                     {"resize_mode", resize_mode_name(p.resize_mode)},
                     {"size", p.size},
                     {"crop_size", p.crop_size},
                     {"interpolation", p.resample},
                     {"mean", jsonu::short_floats(p.mean)},
                     {"std", jsonu::short_floats(p.std)}};
  return j;
}

std::string scalar(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::string checkpoint_summary_json(const Checkpoint& ck) { return summary(ck).dump(2) + "\n"; }

std::string checkpoint_summary_text(const Checkpoint& ck) {
  const json j = summary(ck);
  std::ostringstream os;
  for (const char* k : {"path", "layout", "config_source", "parameters", "canonical_tensors",
                        "tensor_bytes", "embed_dim", "quantization", "int8_weights", "int8_scheme"})
    if (j.contains(k)) os << k << ": " << scalar(j[k]) << "\n";
  os << "weight_files:";
  for (const auto& f : j["weight_files"]) os << " " << f.get<std::string>();
  os << "\ndtypes:";
  for (auto it = j["dtypes"].begin(); it != j["dtypes"].end(); ++it)
    os << " " << it.key() << " x" << it.value().get<int>();
  os << "\n";
  for (const char* tower : {"text", "vision", "preprocess"}) {
    if (!j.contains(tower)) continue;
    os << tower << ":\n";
    for (auto it = j[tower].begin(); it != j[tower].end(); ++it)
      os << "  " << it.key() << ": " << scalar(it.value()) << "\n";
  }
  return os.str();
}

}  // namespace clipkit::io
