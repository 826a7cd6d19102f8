// The reference prepared convolution (the contract is documented at ops::ConvSpec and
// ops::Backend::conv): the BatchNorm folded in float64, every output a float64 sum over the
// whole receptive field plus bias and residual, rounded to float32 once. Plain loops that read
// and write every ConvLayout through one offset function, so this is also the oracle for the
// layouts themselves.
#include <algorithm>
#include <vector>

#include "backends/ref/kernels.h"
#include "backends/ref/ref_backend.h"
#include "core/error.h"
#include "ops/conv.h"

namespace clipkit::ref {

namespace {

class RefPreparedConv final : public ops::PreparedConv {
 public:
  explicit RefPreparedConv(const ops::ConvSpec& spec)
      : spec_(spec),
        weight_(size_t(spec.out_channels * spec.in_channels * spec.kh * spec.kw)),
        bias_(size_t(spec.out_channels)) {
    ops::fold_conv_batchnorm(spec, weight_.data(), bias_.data());
    spec_.weight = spec_.bias = nullptr;
    spec_.bn_mean = spec_.bn_var = spec_.bn_gamma = spec_.bn_beta = nullptr;
  }
  const ops::ConvSpec& spec() const override { return spec_; }
  size_t bytes() const override { return (weight_.size() + bias_.size()) * sizeof(double); }

  double weight(int64_t o, int64_t c, int64_t ky, int64_t kx) const {
    return weight_[size_t(((o * spec_.in_channels + c) * spec_.kh + ky) * spec_.kw + kx)];
  }
  double bias(int64_t o) const { return bias_[size_t(o)]; }

 private:
  ops::ConvSpec spec_;
  std::vector<double> weight_;  // folded [O, C, KH, KW]
  std::vector<double> bias_;    // folded [O]
};

// Index of element (n, c, y, x) of an activation [N, C, H, W] in `layout` (see ops::ConvLayout).
template <typename T>
int64_t offset(const ops::BasicConvTensor<T>& t, int64_t n, int64_t c, int64_t y, int64_t x) {
  switch (t.layout) {
    case ops::ConvLayout::kNchw: return ((n * t.c + c) * t.h + y) * t.w + x;
    case ops::ConvLayout::kNhwc: return ((n * t.h + y) * t.w + x) * t.c + c;
    case ops::ConvLayout::kBlocked8:
    case ops::ConvLayout::kBlocked16: {
      const int64_t b = ops::conv_layout_block(t.layout), blocks = (t.c + b - 1) / b;
      return (((n * blocks + c / b) * t.h + y) * t.w + x) * b + c % b;
    }
  }
  fail("conv: unknown activation layout ", int(t.layout));
}

}  // namespace

std::shared_ptr<const ops::PreparedConv> RefBackend::prepare_conv(const ops::ConvSpec& spec) {
  ops::check_conv_spec(spec);
  return std::make_shared<RefPreparedConv>(spec);
}

void RefBackend::conv(const ops::PreparedConv& prepared, const ops::ConstConvTensor& x,
                      const ops::ConvTensor& y) {
  const auto* p = dynamic_cast<const RefPreparedConv*>(&prepared);
  CLIPKIT_CHECK(p, "conv: the layer was prepared by another backend, not by ", name());
  const ops::ConvSpec& s = p->spec();
  CLIPKIT_CHECK(x.c == s.in_channels && y.n == x.n && y.c == s.out_channels &&
                    y.h == s.out_h(x.h) && y.w == s.out_w(x.w),
                "conv: input [", x.n, ", ", x.c, ", ", x.h, ", ", x.w, "] and output [", y.n, ", ",
                y.c, ", ", y.h, ", ", y.w, "] do not fit the layer [", s.out_channels, ", ",
                s.in_channels, ", ", s.kh, ", ", s.kw, "] stride ", s.stride, " pad ", s.pad);
  // Blocked outputs keep their padding channels at zero; the residual read below is untouched
  // there, so clearing them first is only needed without a residual.
  if (!s.residual && ops::conv_layout_block(y.layout) > 1)
    std::fill_n(y.data, ops::conv_layout_floats(y.layout, y.n, y.c, y.h, y.w), 0.0f);
  for (int64_t n = 0; n < y.n; ++n)
    for (int64_t o = 0; o < y.c; ++o)
      for (int64_t oy = 0; oy < y.h; ++oy)
        for (int64_t ox = 0; ox < y.w; ++ox) {
          double acc = p->bias(o);
          for (int64_t c = 0; c < x.c; ++c)
            for (int64_t ky = 0; ky < s.kh; ++ky) {
              const int64_t iy = oy * s.stride - s.pad + ky;
              if (iy < 0 || iy >= x.h) continue;
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t ix = ox * s.stride - s.pad + kx;
                if (ix < 0 || ix >= x.w) continue;
                acc += p->weight(o, c, ky, kx) * double(x.data[offset(x, n, c, iy, ix)]);
              }
            }
          float& out = y.data[offset(y, n, o, oy, ox)];
          if (s.residual) acc += double(out);
          out = float(activation_value<double>(s.act, acc));
        }
}

void RefBackend::conv_reorder(const ops::ConstConvTensor& x, const ops::ConvTensor& y) {
  CLIPKIT_CHECK(x.n == y.n && x.c == y.c && x.h == y.h && x.w == y.w, "conv_reorder: shapes [",
                x.n, ", ", x.c, ", ", x.h, ", ", x.w, "] and [", y.n, ", ", y.c, ", ", y.h, ", ",
                y.w, "] differ");
  if (ops::conv_layout_block(y.layout) > 1)
    std::fill_n(y.data, ops::conv_layout_floats(y.layout, y.n, y.c, y.h, y.w), 0.0f);
  for (int64_t n = 0; n < x.n; ++n)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t h = 0; h < x.h; ++h)
        for (int64_t w = 0; w < x.w; ++w) y.data[offset(y, n, c, h, w)] = x.data[offset(x, n, c, h, w)];
}

}  // namespace clipkit::ref
