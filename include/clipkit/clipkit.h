// clipkit's public C++ API: load a CLIP checkpoint as people have it and embed texts and images
// exactly as the reference implementations do.
//
//   #include <clipkit/clipkit.h>
//   auto clip = clipkit::Clip::load("models/ViT-B-32");           // folder or weights file
//   clipkit::Tensor t = clip.embed_texts({"a photo of a cat", "a photo of a dog"});  // [2, E]
//   clipkit::Tensor i = clip.embed_image_files({"cat.jpg"});                          // [1, E]
//   clipkit::Tensor logits = clip.logits(i, t);                   // [1, 2] = scale * cosine
//
// Embeddings are L2-normalised unless EmbedOptions::normalize is false. Errors (missing files,
// bad checkpoints, undecodable images, invalid UTF-8, over-long prompts) are thrown as
// clipkit::Error with a message naming what is wrong and where.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace clipkit {

struct ClipOptions {
  std::string arch;         // architecture preset overriding the checkpoint's config ("" = detect)
  std::string backend = "cpu";  // "cpu" (fast path) or "ref" (scalar oracle)
  int threads = 0;          // worker threads; 0 = all cores (or CLIPKIT_THREADS)
  // Tokenizer clean-up: "openai" (ftfy + html unescape, the reference) or "transformers"
  // (transformers' CLIPTokenizer, which skips ftfy).
  std::string text_normalization = "openai";
  bool exif_transpose = false;  // rotate images by their EXIF orientation (the references do not)
};

struct EmbedOptions {
  bool normalize = true;        // L2-normalise the embeddings
  bool truncate = true;         // cut over-long prompts (clip.tokenize(truncate=True)); else error
  int batch = 32;               // rows per forward pass
  bool hidden_states = false;   // also return every tower hidden state
  // Called after each batch with (done, total); used for progress bars.
  std::function<void(size_t, size_t)> progress;
};

struct Embeddings {
  Tensor embeds;                       // [N, E] float32
  std::vector<Tensor> hidden_states;   // per layer, [N, T, W] (with EmbedOptions::hidden_states)
};

class Clip {
 public:
  static Clip load(const std::string& path, const ClipOptions& options = {});
  Clip(Clip&&) noexcept;
  Clip& operator=(Clip&&) noexcept;
  ~Clip();

  bool has_text() const;
  bool has_vision() const;
  int embed_dim() const;
  int image_size() const;
  float logit_scale() const;  // exp of the stored log temperature
  // A one-paragraph description: layout, towers, widths, parameter count.
  std::string describe() const;

  // Token rows [N, context] int32 for `texts` (as clip.tokenize does).
  Tensor tokenize(const std::vector<std::string>& texts, bool truncate = true) const;
  // Preprocessed pixels [N, 3, S, S] float32 for image files, decoded and resized on threads.
  Tensor preprocess_files(const std::vector<std::string>& paths) const;

  Embeddings embed_texts_full(const std::vector<std::string>& texts, const EmbedOptions& o = {}) const;
  Embeddings embed_images_full(const std::vector<std::string>& paths, const EmbedOptions& o = {}) const;
  Tensor embed_texts(const std::vector<std::string>& texts, const EmbedOptions& o = {}) const {
    return embed_texts_full(texts, o).embeds;
  }
  Tensor embed_image_files(const std::vector<std::string>& paths, const EmbedOptions& o = {}) const {
    return embed_images_full(paths, o).embeds;
  }
  // Embeds already tokenized ids [N, L] / preprocessed pixels [N, 3, S, S].
  Embeddings embed_ids(const Tensor& ids, const EmbedOptions& o = {}) const;
  Embeddings embed_pixels(const Tensor& pixels, const EmbedOptions& o = {}) const;

  // Cosine similarities [N_img, N_txt] between two sets of embeddings (normalised or not).
  Tensor cosine(const Tensor& image_embeds, const Tensor& text_embeds) const;
  // logit_scale() * cosine: CLIP's logits_per_image.
  Tensor logits(const Tensor& image_embeds, const Tensor& text_embeds) const;

 private:
  struct Impl;
  explicit Clip(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace clipkit
