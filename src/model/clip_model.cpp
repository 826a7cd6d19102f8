#include "model/clip_model.h"

#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "backends/ref/ref_backend.h"
#include "core/error.h"
#include "model/resnet_encoder.h"
#include "model/vit_encoder.h"
#include "ops/linear.h"
#include "ops/norm.h"

namespace clipkit::model {

const char* backend_kind_name(BackendKind k) { return k == BackendKind::kRef ? "ref" : "cpu"; }

BackendKind parse_backend_kind(const std::string& name) {
  if (name == "ref") return BackendKind::kRef;
  if (name == "cpu") return BackendKind::kCpu;
  fail("unknown backend '", name, "' (expected ref or cpu)");
}

ops::Backend& get_backend(BackendKind kind, cpu::GemmLibrary gemm) {
  if (kind == BackendKind::kRef) return ref::ref_backend();
  return cpu::cpu_backend(gemm);
}

ClipModel::ClipModel() : ws_(std::make_unique<ops::Workspace>()), ws_mu_(std::make_unique<std::mutex>()) {}
ClipModel::ClipModel(ClipModel&&) noexcept = default;
ClipModel& ClipModel::operator=(ClipModel&&) noexcept = default;
ClipModel::~ClipModel() = default;

ClipModel ClipModel::load(const std::string& path, const ModelOptions& opts) {
  return from_checkpoint(io::load_checkpoint(path, opts.load), opts);
}

ClipModel ClipModel::from_checkpoint(const io::Checkpoint& ckpt, const ModelOptions& opts) {
  ClipModel m;
  m.config_ = ckpt.config;
  const std::string label = ckpt.path.empty() ? m.config_.name : ckpt.path;
  ParamResolver r(ckpt.params, label);
  if (m.config_.text) {
    m.text_ = std::make_unique<TextEncoder>(*m.config_.text,
                                            resolve_text(r, *m.config_.text, m.config_.embed_dim));
  }
  if (m.config_.vision) {
    const io::VisionConfig& vc = *m.config_.vision;
    if (vc.kind == io::VisionKind::kViT)
      m.vision_ = std::make_unique<VitEncoder>(vc, resolve_vit(r, vc, m.config_.embed_dim));
    else
      m.vision_ = std::make_unique<ResNetEncoder>(vc, resolve_resnet(r, vc, m.config_.embed_dim));
  }
  CLIPKIT_CHECK(m.text_ || m.vision_, label, ": the checkpoint has neither a text nor an image tower");
  m.logit_scale_ = float(m.config_.logit_scale_init);
  if (r.has("logit_scale")) {
    const Tensor s = r.get("logit_scale", {});
    m.logit_scale_ = s.data<float>()[0];
  }
  m.set_backend(opts.backend, opts.gemm);
  return m;
}

const TextEncoder& ClipModel::text() const {
  CLIPKIT_CHECK(text_, config_.name, ": the model has no text tower");
  return *text_;
}

const VisionEncoder& ClipModel::vision() const {
  CLIPKIT_CHECK(vision_, config_.name, ": the model has no image tower");
  return *vision_;
}

void ClipModel::set_backend(BackendKind kind, cpu::GemmLibrary gemm) {
  backend_ = &get_backend(kind, gemm);
  if (text_) text_->prepare(*backend_);
  if (vision_) vision_->prepare(*backend_);
}

TextOutputs ClipModel::encode_text(const Tensor& ids, const TextOptions& opts) const {
  std::lock_guard<std::mutex> lock(*ws_mu_);
  return encode_text(ids, opts, *ws_);
}

TextOutputs ClipModel::encode_text(const Tensor& ids, const TextOptions& opts,
                                   ops::Workspace& ws) const {
  ws.reset();
  return text().forward(*backend_, ids, opts, ws);
}

VisionOutputs ClipModel::encode_image(const Tensor& pixels, const VisionOptions& opts) const {
  std::lock_guard<std::mutex> lock(*ws_mu_);
  return encode_image(pixels, opts, *ws_);
}

VisionOutputs ClipModel::encode_image(const Tensor& pixels, const VisionOptions& opts,
                                      ops::Workspace& ws) const {
  ws.reset();
  return vision().forward(*backend_, pixels, opts, ws);
}

Tensor ClipModel::normalize(const Tensor& embeds) const {
  CLIPKIT_CHECK(embeds.dtype() == DType::F32 && embeds.ndim() == 2, "normalize: embeddings must be F32 [N, E], got ",
                dtype_name(embeds.dtype()), " ", shape_str(embeds.shape()));
  Tensor x = embeds.contiguous();
  Tensor y = Tensor::empty(DType::F32, x.shape());
  ops::l2_normalize(*backend_, x, y);
  return y;
}

Tensor ClipModel::logits_per_image(const Tensor& image_embeds, const Tensor& text_embeds) const {
  const Tensor u = normalize(image_embeds), w = normalize(text_embeds);
  CLIPKIT_CHECK(u.dim(1) == w.dim(1), "logits: image embeddings ", shape_str(u.shape()),
                " and text embeddings ", shape_str(w.shape()), " differ in width");
  Tensor logits = Tensor::empty(DType::F32, {u.dim(0), w.dim(0)});
  ops::matmul(*backend_, u, w.transpose(), logits, float(std::exp(double(logit_scale_))));
  return logits;
}

}  // namespace clipkit::model
