// clipkit preprocess: images -> the float32 [3, S, S] tensors a CLIP vision tower takes, written to
// a safetensors file keyed by file name, exactly as OpenAI's preprocess or transformers'
// CLIPImageProcessor computes them.
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "image/batch.h"
#include "io/safetensors.h"

namespace clipkit::app {
namespace {

struct PreprocessArgs {
  std::vector<std::string> images;
  std::string output;
  int size = 224;
  int crop = 0;  // 0: same as size
  std::string profile = "openai", hf_backend = "torchvision", resize_mode = "shortest";
  std::string resample = "bicubic";
  std::vector<float> mean, std;
  int fill = 0;
  bool exif_transpose = false, dump_uint8 = false, skip_bad = false;
  int threads = 0;
  uint64_t max_pixels = 0;
};

std::string basename_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string floats_json(const std::array<float, 3>& v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "[%.9g, %.9g, %.9g]", v[0], v[1], v[2]);
  return buf;
}

image::BatchOptions batch_options(const PreprocessArgs& a) {
  image::BatchOptions bo;
  image::PreprocessOptions& o = bo.preprocess;
  CLIPKIT_CHECK(a.profile == "openai" || a.profile == "hf", "--profile must be openai or hf, not '",
                a.profile, "'");
  o.profile = a.profile == "hf" ? io::PreprocessProfile::kHF : io::PreprocessProfile::kOpenAI;
  CLIPKIT_CHECK(a.hf_backend == "torchvision" || a.hf_backend == "pil",
                "--hf-backend must be torchvision or pil, not '", a.hf_backend, "'");
  o.hf_backend = a.hf_backend == "pil" ? image::HFBackend::kPil : image::HFBackend::kTorchvision;
  if (a.resize_mode == "shortest") {
    o.resize_mode = io::ResizeMode::kShortest;
  } else if (a.resize_mode == "longest") {
    o.resize_mode = io::ResizeMode::kLongest;
  } else if (a.resize_mode == "squash") {
    o.resize_mode = io::ResizeMode::kSquash;
  } else {
    fail("--resize-mode must be shortest, longest or squash, not '", a.resize_mode, "'");
  }
  o.size = a.size;
  o.crop_size = a.crop > 0 ? a.crop : a.size;
  o.filter = image::parse_filter(a.resample);
  if (!a.mean.empty()) {
    CLIPKIT_CHECK(a.mean.size() == 3, "--mean takes three values r,g,b");
    o.mean = {a.mean[0], a.mean[1], a.mean[2]};
  }
  if (!a.std.empty()) {
    CLIPKIT_CHECK(a.std.size() == 3, "--std takes three values r,g,b");
    o.std = {a.std[0], a.std[1], a.std[2]};
  }
  o.fill_color = a.fill;
  o.exif_transpose = a.exif_transpose;
  if (a.max_pixels) bo.decode.max_pixels = a.max_pixels;
  bo.skip_bad = a.skip_bad;
  bo.keep_uint8 = a.dump_uint8;
  return bo;
}

int run_preprocess(const PreprocessArgs& a) {
  const image::BatchOptions bo = batch_options(a);
  // Tensors are keyed by file name: two inputs with the same name would overwrite each other.
  std::map<std::string, std::string> seen;
  for (const std::string& p : a.images) {
    const auto [it, fresh] = seen.emplace(basename_of(p), p);
    CLIPKIT_CHECK(fresh, "'", p, "' and '", it->second, "' are both named '", it->first,
                  "'; tensors are keyed by file name");
  }
  if (a.threads > 0) ThreadPool::set_global_threads(a.threads);

  const image::Batch b = image::load_batch(a.images, bo);
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t r = 0; r < b.paths.size(); ++r) {
    const std::string name = basename_of(b.paths[r]);
    out.emplace_back(name, b.pixels[int64_t(r)]);
    if (a.dump_uint8) out.emplace_back(name + ".uint8", b.uint8[int64_t(r)]);
  }
  const image::PreprocessOptions& o = bo.preprocess;
  std::map<std::string, std::string> meta = {
      {"producer", "clipkit preprocess"},
      {"profile", a.profile == "hf" ? "hf/" + a.hf_backend : "openai"},
      {"resize_mode", a.resize_mode},
      {"size", std::to_string(o.size)},
      {"crop_size", std::to_string(o.crop_size)},
      {"resample", image::filter_name(o.filter)},
      {"mean", floats_json(o.mean)},
      {"std", floats_json(o.std)},
      {"exif_transpose", o.exif_transpose ? "true" : "false"},
      {"layout", "<name>: F32 [3, S, S] CHW normalised; <name>.uint8: U8 [S, S, 3] RGB crop"}};
  io::write_safetensors(a.output, out, meta);
  std::printf("%s: %zu image%s, float32 [3, %d, %d]%s", a.output.c_str(), b.paths.size(),
              b.paths.size() == 1 ? "" : "s", o.crop_size, o.crop_size,
              a.dump_uint8 ? " + uint8 crops" : "");
  if (!b.failures.empty()) std::printf(", %zu skipped", b.failures.size());
  std::printf("\n");
  return b.failures.empty() ? 0 : 2;
}

const Registrar reg{Command{
    "preprocess",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<PreprocessArgs>();
      sub.add_option("images", a->images, "Image files (JPEG, PNG, WebP, GIF, BMP, TIFF, ...)")
          ->required();
      sub.add_option("-o,--output", a->output, "safetensors file to write")->required();
      sub.add_option("--size", a->size,
                     "Resize target: the shorter side (shortest), the longer side (longest), or "
                     "both sides (squash)")
          ->default_val(224)
          ->check(CLI::Range(1, 16384));
      sub.add_option("--crop", a->crop, "Side S of the output square (default: --size)")
          ->check(CLI::Range(1, 16384));
      sub.add_option("--profile", a->profile,
                     "openai: OpenAI's preprocess / torchvision / OpenCLIP; hf: transformers' "
                     "CLIPImageProcessor")
          ->default_val("openai");
      sub.add_option("--hf-backend", a->hf_backend,
                     "With --profile hf: torchvision (transformers 5's default) or pil "
                     "(transformers 4, CLIPImageProcessorPil)")
          ->default_val("torchvision");
      sub.add_option("--resize-mode", a->resize_mode,
                     "shortest (CLIP), longest (pad to a square with --fill) or squash "
                     "(OpenCLIP's resize modes)")
          ->default_val("shortest");
      sub.add_option("--resample", a->resample,
                     "nearest, box, bilinear, hamming, bicubic or lanczos (Pillow's filters)")
          ->default_val("bicubic");
      sub.add_option("--mean", a->mean, "Normalisation mean r,g,b (default: OpenAI's)")
          ->delimiter(',');
      sub.add_option("--std", a->std, "Normalisation std r,g,b (default: OpenAI's)")
          ->delimiter(',');
      sub.add_option("--fill", a->fill, "Padding value for --resize-mode longest")->default_val(0);
      sub.add_flag("--exif-transpose", a->exif_transpose,
                   "Rotate/flip by the EXIF orientation first (the reference pipelines do not)");
      sub.add_flag("--dump-uint8", a->dump_uint8,
                   "Also write each 8-bit RGB crop as '<name>.uint8' (U8 [S, S, 3])");
      sub.add_flag("--skip-bad", a->skip_bad,
                   "Skip files that cannot be read, with a warning (exit status 2), instead of "
                   "failing");
      sub.add_option("--threads", a->threads, "Worker threads (default: CLIPKIT_THREADS or all cores)")
          ->check(CLI::Range(1, 1024));
      sub.add_option("--max-pixels", a->max_pixels,
                     "Refuse images with more pixels than this (default: Pillow's bomb limit, "
                     "178956970)");
      return [a] { return run_preprocess(*a); };
    },
    "Preprocess images into CLIP's normalised [3, S, S] float32 tensors, keyed by file name",
    "  clipkit preprocess cat.jpg dog.png -o pixels.safetensors\n"
    "      OpenAI's preprocess at 224: bicubic resize of the shorter side, centre crop, normalise\n"
    "  clipkit preprocess photos/*.jpg --size 336 -o pixels336.safetensors\n"
    "      the same at 336 (ViT-L/14@336px)\n"
    "  clipkit preprocess cat.jpg --profile hf -o pixels.safetensors\n"
    "      as transformers' CLIPImageProcessor does it (converts to RGB first)\n"
    "  clipkit preprocess scan.png --resize-mode longest --fill 255 -o pixels.safetensors\n"
    "      whole image kept: longer side to 224, padded white to a square (OpenCLIP)\n"
    "  clipkit preprocess img.jpg --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5 --resample bilinear -o x.safetensors\n"
    "      other normalisation and filter (SigLIP-style)\n"
    "  clipkit preprocess phone.jpg --exif-transpose --dump-uint8 -o debug.safetensors\n"
    "      upright as a viewer shows it, plus the 8-bit crop 'phone.jpg.uint8' for inspection\n"}};

}  // namespace
}  // namespace clipkit::app
