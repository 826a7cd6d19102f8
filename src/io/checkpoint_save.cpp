// save_checkpoint: the canonical parameters written back in a layout, with the config file that
// layout's loaders expect (or, for a single .safetensors, the config text in its metadata), so
// that models convert between layouts and round-trip.
#include <filesystem>
#include <ostream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "io/name_map.h"
#include "io/safetensors.h"

namespace clipkit::io {

namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& p, const std::string& text) {
  write_file_atomic(p.string(), [&](std::ostream& out) { out << text; });
}

bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

void create_folder(const fs::path& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  CLIPKIT_CHECK(!ec, "cannot create folder '", dir.string(), "': ", ec.message());
}

// The checkpoint's own metadata without stale config entries (a file converted from another
// layout must not carry the old layout's config).
std::map<std::string, std::string> carried_metadata(const Checkpoint& ck) {
  std::map<std::string, std::string> m = ck.metadata;
  for (const char* k : {kMetaOpenClipConfig, kMetaHfConfig, kMetaHfPreprocessorConfig}) m.erase(k);
  return m;
}

}  // namespace

void save_checkpoint(const Checkpoint& ck, const std::string& dir, Layout layout) {
  const ModelConfig& c = ck.config;
  const bool single_file = ends_with(dir, ".safetensors");
  const fs::path d(dir);
  std::map<std::string, std::string> meta = carried_metadata(ck);
  switch (layout) {
    case Layout::kOpenAI: {
      // Everything that can throw (config, names, scales) runs before anything is written.
      const std::string cfg = open_clip_config_json(c);
      auto tensors = map_from_canonical(openai_name_map(c), ck.params, ck.path);
      if (single_file) {
        meta[kMetaOpenClipConfig] = cfg;
        create_folder(d.parent_path());
        write_safetensors(dir, tensors, meta);
        return;
      }
      create_folder(d);
      write_safetensors((d / "open_clip_model.safetensors").string(), tensors, meta);
      write_text(d / "open_clip_config.json", cfg);
      return;
    }
    case Layout::kHF:
    case Layout::kDiffusers: {
      const std::string cfg = hf_config_json(c);
      const std::string pre = c.vision ? hf_preprocessor_config_json(c) : std::string();
      auto tensors = map_from_canonical(hf_name_map(c), ck.params, ck.path);
      meta["format"] = "pt";
      if (single_file) {
        meta[kMetaHfConfig] = cfg;
        if (c.vision) meta[kMetaHfPreprocessorConfig] = pre;
        create_folder(d.parent_path());
        write_safetensors(dir, tensors, meta);
        return;
      }
      create_folder(d);
      write_safetensors((d / "model.safetensors").string(), tensors, meta);
      write_text(d / "config.json", cfg);
      if (c.vision) write_text(d / "preprocessor_config.json", pre);
      return;
    }
    case Layout::kSDSingleFile:
      fail("save_checkpoint: writing Stable Diffusion single files is not supported");
  }
}

}  // namespace clipkit::io
