// save_checkpoint: the canonical parameters written back in a layout, with the config file that
// layout's loaders expect, so that models convert between layouts and round-trip.
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/name_map.h"
#include "io/safetensors.h"

namespace clipkit::io {

namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& p, const std::string& text) {
  const std::string tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    CLIPKIT_CHECK(bool(out), "cannot write '", tmp, "'");
    out << text;
    out.flush();
    CLIPKIT_CHECK(bool(out), "error writing '", tmp, "'");
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  CLIPKIT_CHECK(!ec, "cannot rename '", tmp, "' to '", p.string(), "': ", ec.message());
}

}  // namespace

void save_checkpoint(const Checkpoint& ck, const std::string& dir, Layout layout) {
  const ModelConfig& c = ck.config;
  std::error_code ec;
  fs::create_directories(dir, ec);
  CLIPKIT_CHECK(!ec, "cannot create folder '", dir, "': ", ec.message());
  const fs::path d(dir);
  switch (layout) {
    case Layout::kOpenAI: {
      const std::string cfg = open_clip_config_json(c);  // throws before anything is written
      auto tensors = map_from_canonical(openai_name_map(c), ck.params, ck.path);
      write_safetensors((d / "open_clip_model.safetensors").string(), tensors);
      write_text(d / "open_clip_config.json", cfg);
      return;
    }
    case Layout::kHF:
    case Layout::kDiffusers: {
      const std::string cfg = hf_config_json(c);
      auto tensors = map_from_canonical(hf_name_map(c), ck.params, ck.path);
      write_safetensors((d / "model.safetensors").string(), tensors, {{"format", "pt"}});
      write_text(d / "config.json", cfg);
      if (c.vision) write_text(d / "preprocessor_config.json", hf_preprocessor_config_json(c));
      return;
    }
    case Layout::kSDSingleFile:
      fail("save_checkpoint: writing Stable Diffusion single files is not supported");
  }
}

}  // namespace clipkit::io
