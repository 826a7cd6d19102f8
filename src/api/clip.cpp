// The public Clip facade: a model, its tokenizer and its preprocessing, wired together.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>

#include "clipkit/clipkit.h"
#include "core/thread_pool.h"
#include "image/batch.h"
#include "image/preprocess.h"
#include "model/clip_model.h"
#include "ops/linear.h"
#include "text/tokenizer.h"

namespace clipkit {

namespace fs = std::filesystem;

namespace {
bool has_tokenizer_files(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return false;
  for (const char* f : {"tokenizer.json", "vocab.json", "bpe_simple_vocab_16e6.txt.gz"})
    if (fs::exists(fs::path(path) / f, ec)) return true;
  return false;
}

text::Tokenizer make_tokenizer(const std::string& path, const text::TokenizerOptions& to) {
  return has_tokenizer_files(path) ? text::Tokenizer::from_folder(path, to)
                                   : text::Tokenizer::openai(to);
}
}  // namespace

struct Clip::Impl {
  explicit Impl(model::ClipModel m) : model(std::move(m)) {}
  model::ClipModel model;
  // Built on first use: an image-only job never pays for the vocabulary (tens of milliseconds of
  // start-up), and the options were validated at load.
  text::TokenizerOptions tokenizer_options;
  std::once_flag tokenizer_once;
  std::optional<text::Tokenizer> tokenizer;
  const text::Tokenizer& get_tokenizer() {
    std::call_once(tokenizer_once, [&] { tokenizer.emplace(make_tokenizer(path, tokenizer_options)); });
    return *tokenizer;
  }
  image::PreprocessOptions preprocess;
  std::string path;
  std::string layout;
  int64_t parameters = 0;
};

namespace {

text::TokenizerOptions tokenizer_options(const ClipOptions& o) {
  text::TokenizerOptions to;
  if (o.text_normalization == "transformers") {
    to.normalization = text::Normalization::transformers;
  } else {
    CLIPKIT_CHECK(o.text_normalization == "openai", "text normalization must be 'openai' or "
                  "'transformers', not '", o.text_normalization, "'");
  }
  return to;
}

// Concatenates float32 tensors along their first dimension.
Tensor concat_rows(const std::vector<Tensor>& parts) {
  CLIPKIT_CHECK(!parts.empty(), "nothing to concatenate");
  Shape shape = parts[0].shape();
  int64_t rows = 0;
  for (const auto& p : parts) rows += p.dim(0);
  shape[0] = rows;
  Tensor out = Tensor::empty(parts[0].dtype(), shape);
  char* dst = static_cast<char*>(out.raw());
  for (const auto& p : parts) {
    Tensor c = p.contiguous();
    std::memcpy(dst, c.raw(), c.nbytes());
    dst += c.nbytes();
  }
  return out;
}

// Runs `encode` over row batches of `input` and gathers embeddings and hidden states.
template <typename Encode>
Embeddings run_batches(const model::ClipModel& m, const Tensor& input, const EmbedOptions& o,
                       Encode encode) {
  const int64_t n = input.dim(0);
  const int64_t b = std::max(1, o.batch);
  std::vector<Tensor> embeds;
  std::vector<std::vector<Tensor>> hidden;
  for (int64_t s = 0; s < n; s += b) {
    const int64_t e = std::min(n, s + b);
    auto out = encode(input.slice(0, s, e));
    embeds.push_back(out.embeds.defined() ? out.embeds : out.pooled);
    if (o.hidden_states) {
      if (hidden.empty()) hidden.resize(out.hidden_states.size());
      for (size_t i = 0; i < out.hidden_states.size(); ++i) hidden[i].push_back(out.hidden_states[i]);
    }
    if (o.progress) o.progress(size_t(e), size_t(n));
  }
  Embeddings r;
  if (n == 0) return r;
  r.embeds = concat_rows(embeds);
  if (o.normalize) r.embeds = m.normalize(r.embeds);
  for (auto& h : hidden) r.hidden_states.push_back(concat_rows(h));
  return r;
}

}  // namespace

Clip::Clip(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Clip::Clip(Clip&&) noexcept = default;
Clip& Clip::operator=(Clip&&) noexcept = default;
Clip::~Clip() = default;

Clip Clip::load(const std::string& path, const ClipOptions& options) {
  if (options.threads > 0) ThreadPool::set_global_threads(options.threads);
  model::ModelOptions mo;
  mo.backend = model::parse_backend_kind(options.backend);
  mo.load.arch = options.arch;
  io::Checkpoint ckpt = io::load_checkpoint(path, mo.load);
  auto impl = std::make_unique<Impl>(model::ClipModel::from_checkpoint(ckpt, mo));
  impl->tokenizer_options = tokenizer_options(options);
  impl->preprocess = image::PreprocessOptions::from_config(ckpt.config.preprocess);
  impl->path = path;
  impl->layout = io::layout_name(ckpt.layout);
  impl->parameters = ckpt.parameter_count();
  impl->preprocess.exif_transpose = options.exif_transpose;
  return Clip(std::move(impl));
}

bool Clip::has_text() const { return impl_->model.has_text(); }
bool Clip::has_vision() const { return impl_->model.has_vision(); }
int Clip::embed_dim() const { return impl_->model.config().embed_dim; }
int Clip::image_size() const {
  CLIPKIT_CHECK(has_vision(), impl_->path, " has no image tower");
  return impl_->preprocess.crop_size;
}
float Clip::logit_scale() const { return std::exp(impl_->model.logit_scale()); }

std::string Clip::describe() const {
  const auto& c = impl_->model.config();
  std::ostringstream os;
  os << impl_->path << ": " << impl_->layout << " layout, " << impl_->parameters
     << " parameters, embed_dim " << c.embed_dim;
  if (c.text)
    os << "; text " << c.text->layers << " layers x " << c.text->width << " wide, "
       << c.text->heads << " heads";
  if (c.vision) {
    os << "; vision "
       << (c.vision->kind == io::VisionKind::kViT ? "ViT" : "ModifiedResNet") << " at "
       << c.vision->image_size << "px";
  }
  return os.str();
}

Tensor Clip::tokenize(const std::vector<std::string>& texts, bool truncate) const {
  CLIPKIT_CHECK(has_text(), impl_->path, " has no text tower");
  text::TokenizeOptions to;
  to.context_length = impl_->model.config().text->context_length;
  to.overflow = truncate ? text::Overflow::truncate : text::Overflow::error;
  Tensor ids = Tensor::zeros(DType::I32, {int64_t(texts.size()), to.context_length});
  int32_t* p = ids.data<int32_t>();
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<std::vector<int32_t>> rows;
    try {
      rows = impl_->get_tokenizer().tokenize(texts[i], to);
    } catch (const Error& e) {
      fail("text ", i + 1, ": ", e.what());
    }
    std::copy(rows[0].begin(), rows[0].end(), p + i * to.context_length);
  }
  return ids;
}

Tensor Clip::preprocess_files(const std::vector<std::string>& paths) const {
  CLIPKIT_CHECK(has_vision(), impl_->path, " has no image tower");
  image::BatchOptions bo;
  bo.preprocess = impl_->preprocess;
  return image::load_batch(paths, bo).pixels;
}

Embeddings Clip::embed_ids(const Tensor& ids, const EmbedOptions& o) const {
  model::TextOptions to;
  to.output_hidden_states = o.hidden_states;
  return run_batches(impl_->model, ids, o, [&](const Tensor& x) { return impl_->model.encode_text(x, to); });
}

Embeddings Clip::embed_pixels(const Tensor& pixels, const EmbedOptions& o) const {
  model::VisionOptions vo;
  vo.output_hidden_states = o.hidden_states;
  return run_batches(impl_->model, pixels, o, [&](const Tensor& x) { return impl_->model.encode_image(x, vo); });
}

Embeddings Clip::embed_texts_full(const std::vector<std::string>& texts, const EmbedOptions& o) const {
  return embed_ids(tokenize(texts, o.truncate), o);
}

Embeddings Clip::embed_images_full(const std::vector<std::string>& paths, const EmbedOptions& o) const {
  // Decode and embed batch by batch so memory stays bounded for large collections.
  const size_t b = size_t(std::max(1, o.batch));
  std::vector<Embeddings> parts;
  EmbedOptions inner = o;
  inner.progress = nullptr;
  for (size_t s = 0; s < paths.size(); s += b) {
    std::vector<std::string> chunk(paths.begin() + s, paths.begin() + std::min(paths.size(), s + b));
    parts.push_back(embed_pixels(preprocess_files(chunk), inner));
    if (o.progress) o.progress(s + chunk.size(), paths.size());
  }
  Embeddings r;
  if (parts.empty()) return r;
  std::vector<Tensor> e;
  for (auto& p : parts) e.push_back(p.embeds);
  r.embeds = concat_rows(e);
  for (size_t i = 0; i < parts[0].hidden_states.size(); ++i) {
    std::vector<Tensor> h;
    for (auto& p : parts) h.push_back(p.hidden_states[i]);
    r.hidden_states.push_back(concat_rows(h));
  }
  return r;
}

Tensor Clip::cosine(const Tensor& image_embeds, const Tensor& text_embeds) const {
  const Tensor u = impl_->model.normalize(image_embeds), w = impl_->model.normalize(text_embeds);
  CLIPKIT_CHECK(u.dim(1) == w.dim(1), "cosine: image embeddings ", shape_str(u.shape()),
                " and text embeddings ", shape_str(w.shape()), " differ in width");
  Tensor c = Tensor::empty(DType::F32, {u.dim(0), w.dim(0)});
  ops::matmul(impl_->model.backend(), u, w.transpose(), c, 1.0f);
  return c;
}

Tensor Clip::logits(const Tensor& image_embeds, const Tensor& text_embeds) const {
  return impl_->model.logits_per_image(image_embeds, text_embeds);
}

}  // namespace clipkit
