#include "ops/loss.h"

#include "core/error.h"
#include "ops/check.h"

namespace clipkit::ops {

namespace {
void check_pair(const Tensor& img, const Tensor& txt) {
  detail::check_f32("contrastive_loss", "image features", img);
  detail::check_f32("contrastive_loss", "text features", txt);
  CLIPKIT_CHECK(img.ndim() == 2 && img.is_contiguous() && txt.is_contiguous() &&
                    img.shape() == txt.shape() && img.dim(0) >= 1,
                "contrastive_loss: image features ", shape_str(img.shape()), " and text features ",
                shape_str(txt.shape()), " must be contiguous [B, E] of one shape");
}
}  // namespace

ContrastiveResult contrastive_loss(Backend& be, const Tensor& img, const Tensor& txt,
                                   float log_scale) {
  check_pair(img, txt);
  const int64_t b = img.dim(0), e = img.dim(1);
  ContrastiveResult r;
  r.logits_per_image = Tensor::empty(DType::F32, {b, b});
  r.loss = be.contrastive_loss(img.data<float>(), txt.data<float>(), b, e, log_scale,
                               r.logits_per_image.data<float>());
  return r;
}

ContrastiveGrads contrastive_loss_backward(Backend& be, const Tensor& img, const Tensor& txt,
                                           float log_scale, double dloss) {
  check_pair(img, txt);
  const int64_t b = img.dim(0), e = img.dim(1);
  ContrastiveGrads g;
  g.dimg = Tensor::empty(DType::F32, {b, e});
  g.dtxt = Tensor::empty(DType::F32, {b, e});
  be.contrastive_loss_backward(img.data<float>(), txt.data<float>(), b, e, log_scale, dloss,
                               g.dimg.data<float>(), g.dtxt.data<float>(), &g.dlog_scale);
  return g;
}

}  // namespace clipkit::ops
