// clipkit embed: text and image embeddings of a model, written as safetensors, .npy or JSON Lines.
#include <cstdio>
#include <fstream>

#include "clipkit/clipkit.h"
#include "command.h"
#include "core/atomic_file.h"
#include "inputs.h"
#include "io/npy.h"
#include "io/safetensors.h"

namespace clipkit::app {
namespace {

struct EmbedArgs {
  std::string model, arch, text_file, image_dir, out, backend = "cpu";
  std::vector<std::string> texts, images;
  int batch = 32, threads = 0;
  bool hidden_states = false, unnormalized = false, recursive = false, exif = false;
  bool no_truncate = false, hf_tokenizer = false;
};

std::string extension(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? "" : path.substr(dot);
}

void write_json_string(std::ostream& os, const std::string& s) {
  os << '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      os << '\\' << c;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      os << buf;
    } else {
      os << c;
    }
  }
  os << '"';
}

void write_jsonl(const char* kind, const std::vector<std::string>& inputs, const Tensor& embeds,
                 std::ostream& os) {
  const int64_t d = embeds.dim(1);
  for (size_t i = 0; i < inputs.size(); ++i) {
    os << "{\"type\": \"" << kind << "\", \"input\": ";
    write_json_string(os, inputs[i]);
    os << ", \"embedding\": [";
    char buf[32];
    for (int64_t k = 0; k < d; ++k) {
      std::snprintf(buf, sizeof buf, "%s%.9g", k ? ", " : "", embeds.data<float>()[i * d + k]);
      os << buf;
    }
    os << "]}\n";
  }
}

int run_embed(const EmbedArgs& a) {
  const auto texts = collect_texts(a.texts, a.text_file);
  const auto images = collect_images(a.images, a.image_dir, a.recursive);
  CLIPKIT_CHECK(!texts.empty() || !images.empty(),
                "nothing to embed: give --text, --text-file, --image or --image-dir");
  const std::string ext = extension(a.out);
  CLIPKIT_CHECK(ext == ".safetensors" || ext == ".npy" || ext == ".jsonl",
                "-o must end in .safetensors, .npy or .jsonl (got '", a.out, "')");
  CLIPKIT_CHECK(ext != ".npy" || texts.empty() || images.empty(),
                "a .npy file holds one array: embed texts and images separately, or use "
                ".safetensors");
  CLIPKIT_CHECK(!a.hidden_states || ext == ".safetensors",
                "--hidden-states needs a .safetensors output");

  ClipOptions co;
  co.arch = a.arch;
  co.backend = a.backend;
  co.threads = a.threads;
  co.exif_transpose = a.exif;
  if (a.hf_tokenizer) co.text_normalization = "transformers";
  Clip clip = Clip::load(a.model, co);

  EmbedOptions eo;
  eo.batch = a.batch;
  eo.normalize = !a.unnormalized;
  eo.truncate = !a.no_truncate;
  eo.hidden_states = a.hidden_states;
  Embeddings t, v;
  if (!texts.empty()) {
    Progress bar("texts ");
    eo.progress = [&](size_t d, size_t n) { bar.update(d, n); };
    t = clip.embed_texts_full(texts, eo);
  }
  if (!images.empty()) {
    Progress bar("images");
    eo.progress = [&](size_t d, size_t n) { bar.update(d, n); };
    v = clip.embed_images_full(images, eo);
  }

  if (ext == ".safetensors") {
    std::vector<std::pair<std::string, Tensor>> out;
    if (t.embeds.defined()) out.emplace_back("text_embeds", t.embeds);
    if (v.embeds.defined()) out.emplace_back("image_embeds", v.embeds);
    for (size_t i = 0; i < t.hidden_states.size(); ++i)
      out.emplace_back("text.hidden_states." + std::to_string(i), t.hidden_states[i]);
    for (size_t i = 0; i < v.hidden_states.size(); ++i)
      out.emplace_back("vision.hidden_states." + std::to_string(i), v.hidden_states[i]);
    io::write_safetensors(a.out, out, {{"model", a.model},
                                       {"normalized", a.unnormalized ? "false" : "true"}});
  } else if (ext == ".npy") {
    io::write_npy(a.out, t.embeds.defined() ? t.embeds : v.embeds);
  } else {
    write_file_atomic(a.out, [&](std::ostream& os) {
      if (t.embeds.defined()) write_jsonl("text", texts, t.embeds, os);
      if (v.embeds.defined()) write_jsonl("image", images, v.embeds, os);
    });
  }
  std::fprintf(stderr, "wrote %zu text and %zu image embeddings (dim %d) to %s\n", texts.size(),
               images.size(), clip.embed_dim(), a.out.c_str());
  return 0;
}

const Registrar reg{Command{
    "embed",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<EmbedArgs>();
      sub.add_option("--model", a->model, "Model folder or weights file")->required();
      sub.add_option("--arch", a->arch, "Architecture preset (ViT-B-32, RN50, ...) overriding the config");
      sub.add_option("--text", a->texts, "A text to embed (repeatable)");
      sub.add_option("--text-file", a->text_file, "A file with one text per line ('-' = stdin)");
      sub.add_option("--image", a->images, "An image file to embed (repeatable)");
      sub.add_option("--image-dir", a->image_dir, "Embed every image in this folder (sorted by name)");
      sub.add_flag("--recursive", a->recursive, "With --image-dir: include subfolders");
      sub.add_option("-o,--output", a->out,
                     "Output: .safetensors (text_embeds, image_embeds), .npy (one kind) or .jsonl")
          ->required();
      sub.add_option("--batch", a->batch, "Rows per forward pass");
      sub.add_option("--threads", a->threads, "Worker threads (default: all cores)");
      sub.add_flag("--hidden-states", a->hidden_states,
                   "Also write every tower's hidden states (text.hidden_states.{i}, vision.hidden_states.{i})");
      sub.add_flag("--unnormalized", a->unnormalized, "Write the projections before L2 normalisation");
      sub.add_flag("--no-truncate", a->no_truncate, "Fail on prompts over 77 tokens instead of cutting them");
      sub.add_flag("--exif-transpose", a->exif, "Rotate images by their EXIF orientation first");
      sub.add_flag("--hf-tokenizer", a->hf_tokenizer, "Clean text as transformers' CLIPTokenizer (no ftfy)");
      sub.add_option("--backend", a->backend, "cpu (fast) or ref (scalar oracle)");
      return [a] { return run_embed(*a); };
    },
    "Embed texts and images with a CLIP model",
    "  clipkit embed --model tests/data/models/tiny_vit --text \"a photo of a cat\" -o cat.npy\n"
    "  clipkit embed --model m/ --image-dir photos/ --text-file captions.txt -o emb.safetensors\n"
    "  clipkit embed --model m/ --image a.jpg --image b.png -o emb.jsonl --unnormalized\n"}};

}  // namespace
}  // namespace clipkit::app
