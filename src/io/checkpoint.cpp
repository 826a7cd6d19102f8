// load_checkpoint: find the weights and the architecture of a model folder or file, then map the
// tensors onto canonical names with the layout's name map.
#include "io/checkpoint.h"

#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/mapped_file.h"
#include "io/json_util.h"
#include "io/name_map.h"
#include "io/presets.h"
#include "io/safetensors.h"
#include "io/torch_zip.h"

namespace clipkit::io {

namespace fs = std::filesystem;

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::kOpenAI: return "openai";
    case Layout::kHF: return "transformers";
    case Layout::kDiffusers: return "diffusers";
    case Layout::kSDSingleFile: return "sd-single-file";
  }
  return "?";
}

const Tensor& Checkpoint::param(const std::string& name) const {
  auto it = params.find(name);
  if (it == params.end()) fail(path, ": the checkpoint has no parameter '", name, "'");
  return it->second;
}

int64_t Checkpoint::parameter_count() const {
  // Like PyTorch's sum over parameters(): BatchNorm running statistics are buffers, not counted,
  // and neither are the scales of int8 weights (the weight they belong to is).
  int64_t n = 0;
  for (const auto& [k, t] : params) {
    const bool buffer = k.size() > 12 && (k.compare(k.size() - 12, 12, "running_mean") == 0 ||
                                          k.compare(k.size() - 11, 11, "running_var") == 0);
    const bool scale = k.size() > 13 && k.compare(k.size() - 13, 13, ".weight_scale") == 0;
    if (!buffer && !scale) n += t.numel();
  }
  return n;
}

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

using TensorMap = std::map<std::string, Tensor>;

struct Weights {
  TensorMap tensors;
  std::vector<std::string> files;
  std::map<std::string, std::string> metadata;  // of a single safetensors file
};

TensorMap safetensors_tensors(const std::string& path,
                              std::map<std::string, std::string>* metadata = nullptr) {
  SafetensorsFile f = SafetensorsFile::open(path);
  TensorMap m;
  for (const std::string& n : f.names()) m.emplace(n, f.get(n));
  if (metadata) *metadata = f.metadata();
  return m;
}

// A sharded checkpoint: <index>.json {"weight_map": {tensor: shard file}} next to the shards.
Weights read_sharded(const std::string& index_path, bool torch_shards) {
  const jsonu::json root = jsonu::parse_file(index_path);
  const jsonu::Obj top(root, index_path, "");
  const jsonu::Obj wm = top.child("weight_map");
  std::map<std::string, std::vector<std::string>> by_shard;
  for (auto it = wm.raw().begin(); it != wm.raw().end(); ++it) {
    CLIPKIT_CHECK(it.value().is_string(), wm.where(it.key()), " must be a file name");
    const std::string shard = it.value().get<std::string>();
    CLIPKIT_CHECK(!shard.empty() && shard.find('/') == std::string::npos && shard != "..",
                  wm.where(it.key()), " = '", shard, "' is not a file name in the same folder");
    by_shard[shard].push_back(it.key());
  }
  const fs::path dir = fs::path(index_path).parent_path();
  Weights w;
  for (const auto& [shard, names] : by_shard) {
    const std::string sp = (dir / shard).string();
    TensorMap m = torch_shards ? read_torch_checkpoint(sp).tensors : safetensors_tensors(sp);
    const std::set<std::string> listed(names.begin(), names.end());
    for (const std::string& n : names) {
      auto it = m.find(n);
      CLIPKIT_CHECK(it != m.end(), index_path, ": tensor '", n, "' is listed in shard '", shard,
                    "' but that file does not hold it");
      CLIPKIT_CHECK(w.tensors.emplace(n, it->second).second, index_path, ": tensor '", n,
                    "' appears in two shards");
    }
    for (const auto& [n, t] : m)
      CLIPKIT_CHECK(listed.count(n), sp, ": tensor '", n, "' is not in the index ", index_path);
    w.files.push_back(sp);
  }
  return w;
}

// One weights file, by content: safetensors, or a torch zip / TorchScript archive.
Weights read_weights_file(const std::string& path) {
  Weights w;
  w.files.push_back(path);
  if (ends_with(path, ".index.json")) return read_sharded(path, path.find(".bin") != std::string::npos);
  if (looks_like_zip(path) || ends_with(path, ".pt") || ends_with(path, ".pth") ||
      ends_with(path, ".bin") || ends_with(path, ".ckpt")) {
    w.tensors = read_torch_checkpoint(path).tensors;
  } else {
    w.tensors = safetensors_tensors(path, &w.metadata);
  }
  return w;
}

std::vector<std::string> keys(const TensorMap& m) {
  std::vector<std::string> k;
  for (const auto& [n, t] : m) k.push_back(n);
  return k;
}

std::map<std::string, Shape> shapes(const TensorMap& m) {
  std::map<std::string, Shape> s;
  for (const auto& [n, t] : m) s.emplace(n, t.shape());
  return s;
}

HfPrefixes hf_prefixes(const TensorMap& m) {
  HfPrefixes p;
  p.text.clear();
  p.vision.clear();
  for (const auto& [n, t] : m) {
    if (starts_with(n, "text_model.")) p.text = "text_model.";
    if (starts_with(n, "vision_model.")) p.vision = "vision_model.";
  }
  return p;
}

bool has_tensor(const TensorMap& m, const std::string& n) { return m.count(n) != 0; }

std::string read_text(const fs::path& p) { return read_file(p.string()); }

Checkpoint finish(Weights w, ModelConfig cfg, Layout layout, const std::string& path,
                  std::string config_source) {
  Checkpoint ck;
  ck.path = path;
  ck.layout = layout;
  ck.weight_files = w.files;
  ck.config_source = std::move(config_source);
  const std::string label = w.files.size() == 1 ? w.files[0] : path;
  const std::vector<NameRule> rules = layout == Layout::kOpenAI
                                          ? openai_name_map(cfg)
                                          : hf_name_map(cfg, hf_prefixes(w.tensors));
  ck.params = map_to_canonical(rules, cfg, w.tensors, label);
  ck.config = std::move(cfg);
  ck.metadata = std::move(w.metadata);
  for (const char* k : {kMetaOpenClipConfig, kMetaHfConfig, kMetaHfPreprocessorConfig})
    ck.metadata.erase(k);
  return ck;
}

// The config a single .safetensors written by save_checkpoint carries in its metadata.
std::optional<ModelConfig> embedded_config(const Weights& w, Layout layout, const std::string& f) {
  auto meta = [&](const char* key) -> const std::string* {
    auto it = w.metadata.find(key);
    return it == w.metadata.end() ? nullptr : &it->second;
  };
  if (layout == Layout::kOpenAI) {
    if (const std::string* text = meta(kMetaOpenClipConfig))
      return parse_open_clip_config(*text, f + " (metadata " + kMetaOpenClipConfig + ")");
    return std::nullopt;
  }
  const std::string* text = meta(kMetaHfConfig);
  if (!text) return std::nullopt;
  ModelConfig c = parse_hf_config(*text, f + " (metadata " + kMetaHfConfig + ")",
                                  has_tensor(w.tensors, "text_projection.weight"),
                                  has_tensor(w.tensors, "visual_projection.weight"));
  if (const std::string* pp = meta(kMetaHfPreprocessorConfig))
    c.preprocess = parse_hf_preprocessor_config(
        *pp, f + " (metadata " + kMetaHfPreprocessorConfig + ")", c.preprocess);
  return c;
}

ModelConfig hf_config_for(const fs::path& config_json, const TensorMap& t) {
  ModelConfig c = parse_hf_config(read_text(config_json), config_json.string(),
                                  has_tensor(t, "text_projection.weight"),
                                  has_tensor(t, "visual_projection.weight"));
  const fs::path pp = config_json.parent_path() / "preprocessor_config.json";
  if (fs::exists(pp))
    c.preprocess = parse_hf_preprocessor_config(read_text(pp), pp.string(), c.preprocess);
  return c;
}

Checkpoint load_folder(const fs::path& dir, const LoadOptions& opts) {
  const std::string d = dir.string();
  if (fs::exists(dir / "open_clip_config.json")) {
    fs::path weights;
    for (const char* n : {"open_clip_model.safetensors", "open_clip_pytorch_model.bin"})
      if (fs::exists(dir / n)) {
        weights = dir / n;
        break;
      }
    CLIPKIT_CHECK(!weights.empty(), d,
                  ": has open_clip_config.json but neither open_clip_model.safetensors nor "
                  "open_clip_pytorch_model.bin");
    Weights w = read_weights_file(weights.string());
    if (!opts.arch.empty())
      return finish(std::move(w), preset(opts.arch), Layout::kOpenAI, d, "preset " + opts.arch);
    return finish(std::move(w), load_open_clip_config((dir / "open_clip_config.json").string()),
                  Layout::kOpenAI, d, "open_clip_config.json");
  }
  if (fs::exists(dir / "config.json")) {
    Weights w;
    if (fs::exists(dir / "model.safetensors")) {
      w = read_weights_file((dir / "model.safetensors").string());
    } else if (fs::exists(dir / "model.safetensors.index.json")) {
      w = read_sharded((dir / "model.safetensors.index.json").string(), false);
    } else if (fs::exists(dir / "pytorch_model.bin")) {
      w = read_weights_file((dir / "pytorch_model.bin").string());
    } else if (fs::exists(dir / "pytorch_model.bin.index.json")) {
      w = read_sharded((dir / "pytorch_model.bin.index.json").string(), true);
    } else {
      fail(d, ": has config.json but no model.safetensors, model.safetensors.index.json, "
              "pytorch_model.bin or pytorch_model.bin.index.json");
    }
    // diffusers keeps each text encoder of a pipeline in its own text_encoder*/ folder.
    const std::string base = fs::absolute(dir).lexically_normal().filename().string();
    const Layout layout = starts_with(base, "text_encoder") ? Layout::kDiffusers : Layout::kHF;
    if (!opts.arch.empty())
      return finish(std::move(w), preset(opts.arch), layout, d, "preset " + opts.arch);
    ModelConfig cfg = hf_config_for(dir / "config.json", w.tensors);
    return finish(std::move(w), std::move(cfg), layout, d, "config.json");
  }
  fail(d, ": not a model folder (no open_clip_config.json or config.json)");
}

// Training checkpoints prefix every name with the wrapper's attribute ("model.", "module.",
// "model.module."): strip leading components shared by all names until a layout is recognised.
void strip_common_prefix(TensorMap& m) {
  while (!m.empty() && !detect_layout(keys(m))) {
    const std::string& first = m.begin()->first;
    const size_t dot = first.find('.');
    if (dot == std::string::npos) return;
    const std::string prefix = first.substr(0, dot + 1);
    for (const auto& [n, t] : m)
      if (!starts_with(n, prefix) || n.size() == prefix.size()) return;
    TensorMap stripped;
    for (auto& [n, t] : m) stripped.emplace(n.substr(prefix.size()), t);
    m = std::move(stripped);
  }
}

// Stable Diffusion single files: where each text encoder lives and how its names are spelled.
struct SdEncoder {
  const char* prefix;
  bool hf_names;
};

std::optional<SdEncoder> sd_encoder(const TensorMap& m, const std::string& component,
                                    const std::string& label) {
  auto any = [&](const std::string& p) {
    auto it = m.lower_bound(p);
    return it != m.end() && starts_with(it->first, p);
  };
  const bool sdxl = any("conditioner.embedders.");
  const bool sd12 = any("cond_stage_model.");
  if (!sdxl && !sd12) return std::nullopt;
  const std::string c = component.empty() ? "text_encoder" : component;
  CLIPKIT_CHECK(c == "text_encoder" || c == "text_encoder_2", label, ": unknown component '", c,
                "' (text_encoder or text_encoder_2)");
  if (sdxl) {
    if (c == "text_encoder") return SdEncoder{"conditioner.embedders.0.transformer.", true};
    return SdEncoder{"conditioner.embedders.1.model.", false};
  }
  CLIPKIT_CHECK(c == "text_encoder", label,
                ": a Stable Diffusion 1.x/2.x file has one text encoder (text_encoder)");
  if (any("cond_stage_model.transformer.")) return SdEncoder{"cond_stage_model.transformer.", true};
  return SdEncoder{"cond_stage_model.model.", false};
}

Checkpoint load_sd_single_file(Weights w, const SdEncoder& enc, const LoadOptions& opts,
                               const std::string& f) {
  CLIPKIT_CHECK(opts.arch.empty(), f,
                ": --arch does not apply to a Stable Diffusion file (its text encoders are derived)");
  TensorMap sub;
  const std::string p = enc.prefix;
  for (auto& [n, t] : w.tensors)
    if (starts_with(n, p)) sub.emplace(n.substr(p.size()), t);
  CLIPKIT_CHECK(!sub.empty(), f, ": no tensors under '", p, "'");
  // OpenCLIP keeps the (image-text) logit_scale next to the text tower; a text encoder alone
  // has no use for it.
  if (!enc.hf_names) sub.erase("logit_scale");
  ModelConfig cfg = derive_text_config(shapes(sub), enc.hf_names, f + ":" + p);
  Weights text;
  text.tensors = std::move(sub);
  text.files = w.files;
  Checkpoint ck;
  ck.path = f;
  ck.layout = Layout::kSDSingleFile;
  ck.weight_files = w.files;
  ck.config_source = std::string("derived from the tensors under ") + enc.prefix;
  const std::vector<NameRule> rules =
      enc.hf_names ? hf_name_map(cfg, hf_prefixes(text.tensors)) : openai_name_map(cfg);
  ck.params = map_to_canonical(rules, cfg, text.tensors, f + " (" + p + "*)");
  ck.config = std::move(cfg);
  return ck;
}

Checkpoint load_file(const fs::path& file, const LoadOptions& opts) {
  const std::string f = file.string();
  Weights w = read_weights_file(f);
  if (auto enc = sd_encoder(w.tensors, opts.component, f)) return load_sd_single_file(std::move(w), *enc, opts, f);
  strip_common_prefix(w.tensors);
  CLIPKIT_CHECK(opts.component.empty(), f, ": --component applies only to Stable Diffusion files");
  std::optional<Layout> layout = detect_layout(keys(w.tensors));
  CLIPKIT_CHECK(layout.has_value(), f,
                ": the tensor names are neither OpenAI/OpenCLIP nor transformers CLIP names (first: '",
                w.tensors.empty() ? std::string("none") : w.tensors.begin()->first, "')");
  if (!opts.arch.empty())
    return finish(std::move(w), preset(opts.arch), *layout, f, "preset " + opts.arch);
  // A file that carries its own config is read with it.
  if (std::optional<ModelConfig> cfg = embedded_config(w, *layout, f))
    return finish(std::move(w), std::move(*cfg), *layout, f, "config in the file's metadata");
  // A weights file next to its config is read with that config.
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  if (*layout == Layout::kOpenAI) {
    if (fs::exists(dir / "open_clip_config.json"))
      return finish(std::move(w), load_open_clip_config((dir / "open_clip_config.json").string()),
                    *layout, f, "open_clip_config.json");
    ModelConfig cfg = derive_openai_config(shapes(w.tensors), f);
    return finish(std::move(w), std::move(cfg), *layout, f, "derived from tensor shapes");
  }
  CLIPKIT_CHECK(fs::exists(dir / "config.json"), f,
                ": transformers weights need their config.json (or a preset with --arch)");
  ModelConfig cfg = hf_config_for(dir / "config.json", w.tensors);
  return finish(std::move(w), std::move(cfg), *layout, f, "config.json");
}

}  // namespace

std::optional<Layout> detect_layout(const std::vector<std::string>& names) {
  int openai = 0, hf = 0;
  for (const std::string& n : names) {
    if (starts_with(n, "visual.") || starts_with(n, "transformer.resblocks.") ||
        n == "token_embedding.weight" || n == "positional_embedding" || n == "ln_final.weight" ||
        n == "text_projection")
      ++openai;
    if (starts_with(n, "text_model.") || starts_with(n, "vision_model.") ||
        starts_with(n, "embeddings.") || starts_with(n, "encoder.layers.") ||
        n == "text_projection.weight" || n == "visual_projection.weight" ||
        n == "final_layer_norm.weight" || starts_with(n, "pre_layrnorm."))
      ++hf;
  }
  if (openai > 0 && hf == 0) return Layout::kOpenAI;
  if (hf > 0 && openai == 0) return Layout::kHF;
  return std::nullopt;
}

Checkpoint load_checkpoint(const std::string& path, const LoadOptions& opts) {
  const fs::path p(path);
  std::error_code ec;
  const auto st = fs::status(p, ec);
  CLIPKIT_CHECK(!ec && fs::exists(st), "'", path, "' does not exist");
  if (fs::is_directory(st)) return load_folder(p, opts);
  return load_file(p, opts);
}

}  // namespace clipkit::io
