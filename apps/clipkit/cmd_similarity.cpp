// clipkit similarity: cosine similarities and CLIP logits between images and texts, with the
// softmax over texts (zero-shot probabilities) for each image.
#include <cmath>
#include <cstdio>

#include "clipkit/clipkit.h"
#include "command.h"
#include "inputs.h"

namespace clipkit::app {
namespace {

struct SimArgs {
  std::string model, arch, text_file, image_dir, backend = "cpu";
  std::vector<std::string> texts, images;
  bool json = false;
};

int run_similarity(const SimArgs& a) {
  const auto texts = collect_texts(a.texts, a.text_file);
  const auto images = collect_images(a.images, a.image_dir);
  CLIPKIT_CHECK(!texts.empty() && !images.empty(), "give at least one text and one image");
  ClipOptions co;
  co.arch = a.arch;
  co.backend = a.backend;
  Clip clip = Clip::load(a.model, co);
  const Tensor t = clip.embed_texts(texts), v = clip.embed_image_files(images);
  const Tensor cos = clip.cosine(v, t), logits = clip.logits(v, t);
  const int64_t n = int64_t(images.size()), m = int64_t(texts.size());
  const float* c = cos.data<float>();
  const float* l = logits.data<float>();
  std::vector<double> prob(size_t(n * m));
  for (int64_t i = 0; i < n; ++i) {
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < m; ++j) mx = std::max(mx, double(l[i * m + j]));
    for (int64_t j = 0; j < m; ++j) sum += prob[i * m + j] = std::exp(l[i * m + j] - mx);
    for (int64_t j = 0; j < m; ++j) prob[i * m + j] /= sum;
  }
  if (a.json) {
    std::printf("{\"logit_scale\": %.9g, \"images\": %lld, \"texts\": %lld, \"cosine\": [",
                clip.logit_scale(), (long long)n, (long long)m);
    for (int64_t i = 0; i < n; ++i) {
      std::printf("%s[", i ? ", " : "");
      for (int64_t j = 0; j < m; ++j) std::printf("%s%.9g", j ? ", " : "", c[i * m + j]);
      std::printf("]");
    }
    std::printf("], \"logits_per_image\": [");
    for (int64_t i = 0; i < n; ++i) {
      std::printf("%s[", i ? ", " : "");
      for (int64_t j = 0; j < m; ++j) std::printf("%s%.9g", j ? ", " : "", l[i * m + j]);
      std::printf("]");
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("logit scale %.4f; rows: images, columns: texts\n", clip.logit_scale());
  for (int64_t j = 0; j < m; ++j) std::printf("  text %lld: %s\n", (long long)j + 1, texts[j].c_str());
  for (int64_t i = 0; i < n; ++i) {
    std::printf("%s\n", images[i].c_str());
    for (int64_t j = 0; j < m; ++j)
      std::printf("  text %-3lld cosine %+.4f  logit %8.4f  p %.4f\n", (long long)j + 1,
                  c[i * m + j], l[i * m + j], prob[i * m + j]);
  }
  return 0;
}

const Registrar reg{Command{
    "similarity",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<SimArgs>();
      sub.add_option("--model", a->model, "Model folder or weights file")->required();
      sub.add_option("--arch", a->arch, "Architecture preset overriding the config");
      sub.add_option("--text", a->texts, "A text (repeatable)");
      sub.add_option("--text-file", a->text_file, "One text per line ('-' = stdin)");
      sub.add_option("--image", a->images, "An image file (repeatable)");
      sub.add_option("--image-dir", a->image_dir, "Every image in this folder");
      sub.add_flag("--json", a->json, "Print {cosine, logits_per_image} as one JSON object");
      sub.add_option("--backend", a->backend, "cpu (fast) or ref (scalar oracle)");
      return [a] { return run_similarity(*a); };
    },
    "Cosine similarity, logits and per-image probabilities between images and texts",
    "  clipkit similarity --model tests/data/models/tiny_vit --image tests/data/images/chelsea.png \\\n"
    "      --text \"a photo of a cat\" --text \"a photo of a rocket\"\n"
    "  clipkit similarity --model m/ --image-dir photos/ --text-file labels.txt --json\n"}};

}  // namespace
}  // namespace clipkit::app
