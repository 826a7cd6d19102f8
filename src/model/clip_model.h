// ClipModel: a loaded CLIP checkpoint (one or both towers) ready to encode token ids and pixel
// batches on a chosen backend. This is the model-level API the public API, the CLI and the tasks
// build on.
//
//   auto model = clipkit::model::ClipModel::load("path/to/model");     // any layout io reads
//   auto text = model.encode_text(ids);            // ids: I32/I64 [N, 77] (clipkit tokenizer)
//   auto image = model.encode_image(pixels);       // pixels: F32 [N, 3, S, S] (preprocessed)
//   Tensor logits = model.logits_per_image(image.embeds, text.embeds);   // [N_img, N_txt]
//
// Every output is a fresh tensor owned by the caller. Options (TextOptions, VisionOptions) ask for
// hidden states, stop early (CLIP skip), pass a padding mask. Weights stay in the checkpoint's
// memory map; 16-bit and int8 linear weights are computed in their stored precision (see params.h).
//
// Thread safety: encode_* may be called concurrently. Each call takes the model's shared
// workspace under a lock; callers that want parallel forwards pass their own Workspace.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "backends/cpu/gemm.h"
#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "model/text_encoder.h"
#include "model/vision_encoder.h"
#include "ops/backend.h"
#include "ops/workspace.h"

namespace clipkit::model {

enum class BackendKind { kRef, kCpu };
const char* backend_kind_name(BackendKind k);
// "ref" or "cpu"; throws Error otherwise.
BackendKind parse_backend_kind(const std::string& name);
// The process-wide backend instance of a kind (the cpu one with the given GEMM library).
ops::Backend& get_backend(BackendKind kind,
                          cpu::GemmLibrary gemm = cpu::GemmLibrary::kOneDnn);

struct ModelOptions {
  BackendKind backend = BackendKind::kCpu;
  cpu::GemmLibrary gemm = cpu::GemmLibrary::kOneDnn;
  io::LoadOptions load;  // passed to io::load_checkpoint by ClipModel::load
};

class ClipModel {
 public:
  // Loads `path` (see io::load_checkpoint for what it accepts) and builds the towers.
  static ClipModel load(const std::string& path, const ModelOptions& opts = {});
  // Builds the towers from an already loaded checkpoint (its tensors are shared, not copied).
  static ClipModel from_checkpoint(const io::Checkpoint& ckpt, const ModelOptions& opts = {});

  ClipModel(ClipModel&&) noexcept;
  ClipModel& operator=(ClipModel&&) noexcept;
  ~ClipModel();

  const io::ModelConfig& config() const { return config_; }
  bool has_text() const { return text_ != nullptr; }
  bool has_vision() const { return vision_ != nullptr; }
  const TextEncoder& text() const;
  const VisionEncoder& vision() const;
  // The stored log temperature (logit_scale parameter, or the config's initial value).
  float logit_scale() const { return logit_scale_; }

  ops::Backend& backend() const { return *backend_; }
  void set_backend(BackendKind kind, cpu::GemmLibrary gemm = cpu::GemmLibrary::kOneDnn);

  // Throws Error when the model has no text (vision) tower or the input does not fit.
  TextOutputs encode_text(const Tensor& ids, const TextOptions& opts = {}) const;
  TextOutputs encode_text(const Tensor& ids, const TextOptions& opts, ops::Workspace& ws) const;
  VisionOutputs encode_image(const Tensor& pixels, const VisionOptions& opts = {}) const;
  VisionOutputs encode_image(const Tensor& pixels, const VisionOptions& opts,
                             ops::Workspace& ws) const;

  // Row-wise L2 normalisation of embeddings [N, E] (a new tensor).
  Tensor normalize(const Tensor& embeds) const;
  // exp(logit_scale) * normalize(image) normalize(text)^T: logits_per_image [N_img, N_txt]
  // (logits_per_text is its transpose). Inputs are the unnormalised embeds.
  Tensor logits_per_image(const Tensor& image_embeds, const Tensor& text_embeds) const;

 private:
  ClipModel();

  io::ModelConfig config_;
  std::unique_ptr<TextEncoder> text_;
  std::unique_ptr<VisionEncoder> vision_;
  float logit_scale_ = 0;
  ops::Backend* backend_ = nullptr;
  std::unique_ptr<ops::Workspace> ws_;
  std::unique_ptr<std::mutex> ws_mu_;
};

}  // namespace clipkit::model
