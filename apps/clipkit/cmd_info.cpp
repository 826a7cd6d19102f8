// clipkit info: what a model folder or weights file holds, as the loader sees it.
#include <cstdio>

#include "command.h"
#include "io/checkpoint.h"
#include "io/checkpoint_info.h"

namespace clipkit::app {
namespace {

struct InfoArgs {
  std::string path, arch, component;
  bool json = false;
};

int run_info(const InfoArgs& a) {
  io::LoadOptions opts;
  opts.arch = a.arch;
  opts.component = a.component;
  const io::Checkpoint ck = io::load_checkpoint(a.path, opts);
  const std::string out = a.json ? io::checkpoint_summary_json(ck) : io::checkpoint_summary_text(ck);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

const Registrar reg{Command{
    "info",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<InfoArgs>();
      sub.add_option("PATH", a->path,
                     "Model folder (OpenCLIP, transformers, diffusers text_encoder) or weights file "
                     "(.safetensors, .pt/.pth/.bin/.ckpt, TorchScript .pt)")
          ->required();
      sub.add_option("--arch", a->arch,
                     "Architecture preset (RN50, RN101, RN50x4, RN50x16, RN50x64, ViT-B-32, ViT-B-16, "
                     "ViT-L-14, ViT-L-14-336, ViT-H-14, ViT-g-14, ViT-bigG-14, each also -quickgelu) "
                     "overriding any config");
      sub.add_option("--component", a->component,
                     "Which text encoder of a Stable Diffusion single file: text_encoder (default) "
                     "or text_encoder_2 (SDXL's OpenCLIP bigG)");
      sub.add_flag("--json", a->json, "Print one JSON object instead of key: value lines");
      return [a] { return run_info(*a); };
    },
    "Show a checkpoint's layout, architecture (towers, widths, layers, heads, activation, "
    "pooling, image size, patch), dtypes, quantisation (int8, f16, bf16) and parameter count",
    "  clipkit info models/ViT-B-32/                  # an OpenCLIP folder (open_clip_config.json)\n"
    "  clipkit info models/ViT-B-32-int8/             # a quantised model: int8 weights, scheme\n"
    "  clipkit info ViT-B-32.pt --arch ViT-B-32        # OpenAI's TorchScript file with a preset\n"
    "  clipkit info sdxl/text_encoder_2 --json         # a diffusers text encoder, as JSON\n"
    "  clipkit info clip-vit-large-patch14/            # a transformers folder (config.json)\n"
    "  clipkit info sd_xl_base_1.0.safetensors --component text_encoder_2\n"}};

}  // namespace
}  // namespace clipkit::app
