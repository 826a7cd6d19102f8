// clipkit quantize: a model's weights as int8 (per-row scales), float16 or bfloat16, written as a
// normal checkpoint every other command loads.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "command.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "io/quantize.h"

namespace clipkit::app {
namespace {

namespace fs = std::filesystem;

struct QuantizeArgs {
  std::string model, out, to = "int8", layout, arch, component;
};

bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

std::string megabytes(uintmax_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MB", double(bytes) / 1e6);
  return buf;
}

// The layout to write: the one asked for, else the input's own where it can be written (an SD
// single file's text encoder becomes a transformers folder).
io::Layout output_layout(const QuantizeArgs& a, const io::Checkpoint& ck) {
  if (a.layout == "openclip") return io::Layout::kOpenAI;
  if (a.layout == "transformers") return io::Layout::kHF;
  if (ck.layout == io::Layout::kSDSingleFile) return io::Layout::kHF;
  return ck.layout;
}

// The files save_checkpoint writes for `out` in `layout`.
std::vector<fs::path> output_files(const std::string& out, io::Layout layout, bool vision) {
  if (ends_with(out, ".safetensors")) return {fs::path(out)};
  const fs::path d(out);
  if (layout == io::Layout::kOpenAI) return {d / "open_clip_model.safetensors", d / "open_clip_config.json"};
  std::vector<fs::path> f = {d / "model.safetensors", d / "config.json"};
  if (vision) f.push_back(d / "preprocessor_config.json");
  return f;
}

// Refuses outputs that would overwrite the input or leave a folder that loads as something else.
void check_output(const QuantizeArgs& a, const io::Checkpoint& ck, io::Layout layout,
                  const std::vector<fs::path>& files) {
  std::error_code ec;
  CLIPKIT_CHECK(!fs::equivalent(a.model, a.out, ec), "-o '", a.out,
                "' is the input model; write the quantised model somewhere else");
  for (const fs::path& f : files)
    for (const std::string& w : ck.weight_files)
      CLIPKIT_CHECK(!fs::equivalent(f, w, ec), "-o '", a.out, "' would overwrite the input weights '",
                    w, "'; write the quantised model somewhere else");
  if (ends_with(a.out, ".safetensors")) return;
  // The loader reads open_clip_config.json before config.json: a transformers model written into
  // a folder that holds an OpenCLIP one would load as the old model.
  const fs::path other = fs::path(a.out) / (layout == io::Layout::kOpenAI ? "config.json" : "open_clip_config.json");
  CLIPKIT_CHECK(!fs::exists(other), "-o '", a.out, "' already holds another model (",
                other.filename().string(), "); choose a new or empty folder");
}

int run_quantize(const QuantizeArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  const io::QuantizeTarget to = io::parse_quantize_target(a.to);
  io::LoadOptions opts;
  opts.arch = a.arch;
  opts.component = a.component;
  const io::Checkpoint ck = io::load_checkpoint(a.model, opts);
  const io::Layout layout = output_layout(a, ck);
  const std::vector<fs::path> files = output_files(a.out, layout, ck.config.vision.has_value());
  check_output(a, ck, layout, files);

  io::QuantizeSummary s;
  const io::Checkpoint q = io::quantize_checkpoint(ck, to, &s);
  io::save_checkpoint(q, a.out, layout);
  uintmax_t written = 0;
  for (const fs::path& f : files) written += fs::file_size(f);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf("quantized %s (%s) to %s: %lld tensors converted, %lld kept", a.model.c_str(),
              io::layout_name(ck.layout), io::quantize_target_name(to), (long long)s.converted,
              (long long)s.kept);
  if (s.scales_added) std::printf(", %lld per-row scales added", (long long)s.scales_added);
  std::printf("\ntensor data: %s -> %s (%.2fx smaller)\n", megabytes(s.bytes_before).c_str(),
              megabytes(s.bytes_after).c_str(),
              s.bytes_after ? double(s.bytes_before) / double(s.bytes_after) : 0.0);
  std::printf("wrote %s (%s layout, %s on disk) in %.2f s\n", a.out.c_str(),
              layout == io::Layout::kOpenAI ? "OpenCLIP" : "transformers", megabytes(written).c_str(),
              secs);
  return 0;
}

const Registrar reg{Command{
    "quantize",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<QuantizeArgs>();
      sub.add_option("MODEL", a->model,
                     "Model folder (OpenCLIP, transformers, diffusers text_encoder) or weights file "
                     "(.safetensors, .pt/.pth/.bin/.ckpt, Stable Diffusion single file)")
          ->required();
      sub.add_option("-o,--output", a->out,
                     "Output: a folder (created if needed), or one .safetensors file that carries "
                     "its config in its metadata")
          ->required();
      sub.add_option("--to", a->to,
                     "int8: transformer block linear weights as int8 with one float32 scale per "
                     "output row (everything else kept); f16 / bf16: every float tensor rounded "
                     "to 16 bits")
          ->check(CLI::IsMember({"int8", "f16", "bf16"}))
          ->capture_default_str();
      sub.add_option("--layout", a->layout,
                     "openclip (open_clip_config.json + open_clip_model.safetensors, both towers) "
                     "or transformers (config.json + model.safetensors); default: the input's")
          ->check(CLI::IsMember({"openclip", "transformers"}));
      sub.add_option("--arch", a->arch, "Architecture preset (ViT-B-32, RN50, ...) overriding any config");
      sub.add_option("--component", a->component,
                     "Which text encoder of a Stable Diffusion single file: text_encoder (default) "
                     "or text_encoder_2");
      return [a] { return run_quantize(*a); };
    },
    "Write a model with int8 (per-row scaled), float16 or bfloat16 weights; every command loads it",
    "  clipkit quantize models/ViT-B-32 -o models/ViT-B-32-int8          # int8, OpenCLIP folder\n"
    "  clipkit quantize models/ViT-B-32 -o ViT-B-32-int8.safetensors     # one file, config inside\n"
    "  clipkit quantize clip-vit-large-patch14/ -o vit-l-f16 --to f16    # transformers folder\n"
    "  clipkit quantize sd_xl_base_1.0.safetensors --component text_encoder_2 -o te2-int8\n"
    "  clipkit embed --model models/ViT-B-32-int8 --text \"a photo of a cat\" -o cat.npy\n"
    "  clipkit info models/ViT-B-32-int8                                  # dtypes, quantization\n"}};

}  // namespace
}  // namespace clipkit::app
