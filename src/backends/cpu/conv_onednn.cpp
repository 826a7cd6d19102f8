#include "backends/cpu/conv_onednn.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/openmp.h"
#include "backends/cpu/parallel.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/conv.h"

namespace clipkit::cpu {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

dnnl::engine& engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// One stream per thread: streams are cheap, and a thread never runs two primitives at once.
dnnl::stream& thread_stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

Tag tag_of(ops::ConvLayout layout) {
  switch (layout) {
    case ops::ConvLayout::kNchw: return Tag::nchw;
    case ops::ConvLayout::kNhwc: return Tag::nhwc;
    case ops::ConvLayout::kBlocked8: return Tag::nChw8c;
    case ops::ConvLayout::kBlocked16: return Tag::nChw16c;
  }
  fail("conv: unknown activation layout ", int(layout));
}

memory::desc activation_desc(ops::ConvLayout layout, int64_t n, int64_t c, int64_t h, int64_t w) {
  return memory::desc({n, c, h, w}, memory::data_type::f32, tag_of(layout));
}

// Sets the calling thread's OpenMP thread count for one primitive call and restores it after, so
// the GEMM code's record of that setting stays true.
class OmpThreads {
 public:
  explicit OmpThreads(int want) {
    const OmpSetNumThreads set = omp_set_num_threads_fn();
    const OmpGetMaxThreads get = omp_get_max_threads_fn();
    if (!set || !get) return;
    saved_ = get();
    if (saved_ == want) return;
    set_ = set;
    set_(want);
  }
  ~OmpThreads() {
    if (set_) set_(saved_);
  }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  OmpSetNumThreads set_ = nullptr;
  int saved_ = 0;
};

// Grow-only, 64-byte aligned per-thread scratch for the primitives' scratchpads (user mode, so
// that one primitive can run on several threads at once, each with its own).
char* thread_scratch(size_t bytes) {
  struct Buffer {
    char* data = nullptr;
    size_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buf;
  if (bytes > buf.size) {
    const size_t size = (bytes + 63) / 64 * 64;
    char* p = static_cast<char*>(std::aligned_alloc(64, size));
    CLIPKIT_CHECK(p, "conv: cannot allocate ", size, " bytes of scratchpad");
    std::free(buf.data);
    buf.data = p;
    buf.size = size;
  }
  return buf.data;
}

ConvThreading initial_conv_threading() {
  const char* env = std::getenv("CLIPKIT_CONV_THREADING");
  if (env && std::string_view(env) == "openmp") return ConvThreading::kOpenMp;
  return ConvThreading::kPool;
}

std::atomic<ConvThreading>& conv_threading_mode() {
  static std::atomic<ConvThreading> mode{initial_conv_threading()};
  return mode;
}

// Runs f, turning oneDNN's exceptions into clipkit errors that name the layer.
template <typename F>
decltype(auto) onednn_call(const ops::ConvSpec& s, const char* what, F&& f) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    fail("conv: oneDNN failed to ", what, " for the [", s.out_channels, ", ", s.in_channels, ", ",
         s.kh, ", ", s.kw, "] stride ", s.stride, " pad ", s.pad, " layer: ", e.what());
  }
}

// The cpu backend's prepared layer: folded weights in the layout oneDNN chose, the folded bias,
// and one primitive per (images, height, width, input layout, output layout, output channels).
class OneDnnConv final : public ops::PreparedConv {
 public:
  explicit OneDnnConv(const ops::ConvSpec& spec);
  const ops::ConvSpec& spec() const override { return spec_; }
  size_t bytes() const override;
  void run(const ops::ConstConvTensor& x, const ops::ConvTensor& y) const;

 private:
  // A primitive computes output channels [o0, o1) of n images.
  struct Key {
    int64_t n, h, w;
    ops::ConvLayout src, dst;
    int64_t o0, o1;
    bool operator==(const Key& k) const {
      return n == k.n && h == k.h && w == k.w && src == k.src && dst == k.dst && o0 == k.o0 &&
             o1 == k.o1;
    }
  };
  struct Plan {
    Key key;
    dnnl::convolution_forward primitive;
    memory::desc src, dst, scratch;
    memory weights, bias;  // views into the layer's own where the layout allows
    size_t scratch_bytes = 0;
  };
  const Plan& plan(const Key& key) const;
  const Plan& plan_locked(const Key& key) const;
  std::unique_ptr<Plan> make_plan(const Key& key) const;
  dnnl::convolution_forward::primitive_desc primitive_desc(const Key& key) const;
  // The weights in layout `want`, for a primitive computing all output channels.
  memory whole_weights(const memory::desc& want) const;
  memory group_weights(const memory::desc& want, int64_t o0, int64_t o1) const;
  void execute(const Plan& p, const float* x, float* y) const;
  // Output channels [o0, o1) of the images [i0, i1) of x into y.
  void run_part(const ops::ConstConvTensor& x, const ops::ConvTensor& y, int64_t i0, int64_t i1,
                int64_t o0, int64_t o1) const;

  // Folds the BatchNorm into bias_ and weights_, laid out as `want` (on the first primitive's
  // creation, with mu_ held).
  void fold_locked(const memory::desc& want) const;

  ops::ConvSpec spec_;    // without the data pointers
  ops::ConvSpec source_;  // the caller's weights and statistics, read by fold_locked()
  mutable std::mutex mu_;
  mutable bool folded_ = false;
  mutable memory bias_;
  mutable memory weights_;  // folded, in the layout of the first primitive made
  mutable std::vector<std::unique_ptr<Plan>> plans_;
};

OneDnnConv::OneDnnConv(const ops::ConvSpec& spec) : spec_(spec), source_(spec) {
  spec_.weight = spec_.bias = nullptr;
  spec_.bn_mean = spec_.bn_var = spec_.bn_gamma = spec_.bn_beta = nullptr;
}

void OneDnnConv::fold_locked(const memory::desc& want) const {
  const ops::ConvSpec& s = source_;
  const int64_t o = s.out_channels, per_out = s.in_channels * s.kh * s.kw;
  // The folded weights in plain [O, C, KH, KW] order exist only until they are reordered.
  std::vector<float> plain(size_t(o * per_out));
  bias_ = memory(memory::desc({o}, memory::data_type::f32, Tag::x), engine());
  float* bp = static_cast<float*>(bias_.get_data_handle());
  // One output channel at a time through the shared float64 definition, rounded once.
  std::vector<double> row(static_cast<size_t>(per_out));
  for (int64_t i = 0; i < o; ++i) {
    ops::ConvSpec one = s;
    one.out_channels = 1;
    one.weight = s.weight + i * per_out;
    for (const float** p : {&one.bias, &one.bn_mean, &one.bn_var, &one.bn_gamma, &one.bn_beta})
      if (*p) *p += i;
    double b = 0.0;
    ops::fold_conv_batchnorm(one, row.data(), &b);
    for (int64_t k = 0; k < per_out; ++k) plain[size_t(i * per_out + k)] = float(row[size_t(k)]);
    bp[i] = float(b);
  }
  memory src(memory::desc({o, s.in_channels, s.kh, s.kw}, memory::data_type::f32, Tag::oihw),
             engine(), plain.data());
  weights_ = memory(want, engine());
  dnnl::reorder(src, weights_).execute(thread_stream(), src, weights_);
  thread_stream().wait();
  folded_ = true;
}

size_t OneDnnConv::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!folded_) return 0;
  const char* base = static_cast<const char*>(weights_.get_data_handle());
  const size_t own = weights_.get_desc().get_size();
  size_t total = own + bias_.get_desc().get_size();
  for (const auto& p : plans_) {
    const char* w = static_cast<const char*>(p->weights.get_data_handle());
    if (w < base || w >= base + own) total += p->weights.get_desc().get_size();
  }
  return total;
}

// Weights [o1 - o0, C, KH, KW] in layout `want` for a primitive computing output channels
// [o0, o1): a view into the layer's weights when `want` is their layout restricted to those
// channels (the usual case: oneDNN's weight layouts keep output-channel blocks outermost), else a
// reordered copy of that part.
memory OneDnnConv::group_weights(const memory::desc& want, int64_t o0, int64_t o1) const {
  const memory::desc full = weights_.get_desc();
  const memory::desc part = full.submemory_desc({o1 - o0, spec_.in_channels, spec_.kh, spec_.kw},
                                                {o0, 0, 0, 0});
  const dnnl_memory_desc_t& a = want.data;
  const dnnl_memory_desc_t& b = part.data;
  bool same = a.format_kind == dnnl_blocked && b.format_kind == dnnl_blocked && a.ndims == b.ndims &&
              a.format_desc.blocking.inner_nblks == b.format_desc.blocking.inner_nblks;
  for (int i = 0; same && i < a.ndims; ++i)
    same = a.format_desc.blocking.strides[i] == b.format_desc.blocking.strides[i] &&
           (i == 0 || a.padded_dims[i] == b.padded_dims[i]);
  for (int i = 0; same && i < a.format_desc.blocking.inner_nblks; ++i)
    same = a.format_desc.blocking.inner_blks[i] == b.format_desc.blocking.inner_blks[i] &&
           a.format_desc.blocking.inner_idxs[i] == b.format_desc.blocking.inner_idxs[i];
  // The view must stay inside the layer's weights, padding included.
  const size_t offset = size_t(b.offset0) * sizeof(float);
  same = same && a.offset0 == 0 && offset + want.get_size() <= full.get_size();
  if (same)
    return memory(want, engine(), static_cast<char*>(weights_.get_data_handle()) + offset);
  memory src(part, engine(), weights_.get_data_handle());
  memory w(want, engine());
  dnnl::reorder(src, w).execute(thread_stream(), src, w);
  thread_stream().wait();
  return w;
}

dnnl::convolution_forward::primitive_desc OneDnnConv::primitive_desc(const Key& k) const {
  const ops::ConvSpec& s = spec_;
  const int64_t oc = k.o1 - k.o0;
  const memory::desc any_weights({oc, s.in_channels, s.kh, s.kw}, memory::data_type::f32, Tag::any);
  // Padding on the right as on the left: oneDNN derives the output size with floor division,
  // as torch does, so a symmetric padding describes torch's layer exactly.
  const dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
      activation_desc(k.src, k.n, s.in_channels, k.h, k.w), any_weights,
      memory::desc({oc}, memory::data_type::f32, Tag::x),
      activation_desc(k.dst, k.n, oc, s.out_h(k.h), s.out_w(k.w)), {s.stride, s.stride},
      {s.pad, s.pad}, {s.pad, s.pad});
  dnnl::post_ops post;
  if (s.residual) post.append_sum(1.0f);
  if (s.act == ops::Act::kRelu) post.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(post);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return dnnl::convolution_forward::primitive_desc(desc, attr, engine());
}

memory OneDnnConv::whole_weights(const memory::desc& want) const {
  if (want == weights_.get_desc()) return weights_;
  // A primitive that wants yet another layout than the first one gets its own copy.
  memory w(want, engine());
  dnnl::reorder(weights_, w).execute(thread_stream(), weights_, w);
  thread_stream().wait();
  return w;
}

std::unique_ptr<OneDnnConv::Plan> OneDnnConv::make_plan(const Key& k) const {
  const bool whole = k.o0 == 0 && k.o1 == spec_.out_channels;
  const dnnl::convolution_forward::primitive_desc pd = primitive_desc(k);
  // The first primitive folds the weights into the layout oneDNN picks for the whole layer (for
  // a channel group the descriptor of the whole layer is enough to learn it; no whole-layer
  // primitive is compiled). A group's weights are then a part of those.
  if (!folded_)
    fold_locked(whole ? pd.weights_desc()
                      : primitive_desc({k.n, k.h, k.w, k.src, k.dst, 0, spec_.out_channels}).weights_desc());
  auto p = std::make_unique<Plan>();
  p->key = k;
  p->primitive = dnnl::convolution_forward(pd);
  p->src = pd.src_desc();
  p->dst = pd.dst_desc();
  p->scratch = pd.scratchpad_desc();
  p->scratch_bytes = p->scratch.get_size();
  p->bias = memory(pd.bias_desc(), engine(), static_cast<float*>(bias_.get_data_handle()) + k.o0);
  p->weights = whole ? whole_weights(pd.weights_desc()) : group_weights(pd.weights_desc(), k.o0, k.o1);
  return p;
}

const OneDnnConv::Plan& OneDnnConv::plan_locked(const Key& k) const {
  for (const auto& p : plans_)
    if (p->key == k) return *p;
  plans_.push_back(make_plan(k));
  return *plans_.back();
}

const OneDnnConv::Plan& OneDnnConv::plan(const Key& k) const {
  std::lock_guard<std::mutex> lock(mu_);
  return onednn_call(spec_, "create a convolution",
                     [&]() -> const Plan& { return plan_locked(k); });
}

void OneDnnConv::execute(const Plan& p, const float* x, float* y) const {
  // Memory objects are per call (a few small allocations, next to a convolution's work): cached
  // ones would have to be guarded against concurrent forward passes.
  memory src(p.src, engine(), const_cast<float*>(x));
  memory dst(p.dst, engine(), y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                       {DNNL_ARG_WEIGHTS, p.weights},
                                       {DNNL_ARG_BIAS, p.bias},
                                       {DNNL_ARG_DST, dst}};
  if (p.scratch_bytes > 0)
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(p.scratch, engine(), thread_scratch(p.scratch_bytes)));
  p.primitive.execute(thread_stream(), args);
  thread_stream().wait();
}

void OneDnnConv::run_part(const ops::ConstConvTensor& x, const ops::ConvTensor& y, int64_t i0,
                          int64_t i1, int64_t o0, int64_t o1) const {
  const Plan& p = plan({i1 - i0, x.h, x.w, x.layout, y.layout, o0, o1});
  // Images are outermost in every layout; a range of whole channel blocks of one image is
  // contiguous in a blocked layout (the only case where o0 > 0).
  const int64_t x_image = ops::conv_layout_floats(x.layout, 1, x.c, x.h, x.w);
  const int64_t y_image = ops::conv_layout_floats(y.layout, 1, y.c, y.h, y.w);
  const int64_t y_offset = i0 * y_image + o0 * y.h * y.w;
  onednn_call(spec_, "run a convolution", [&] { execute(p, x.data + i0 * x_image, y.data + y_offset); });
}

void OneDnnConv::run(const ops::ConstConvTensor& x, const ops::ConvTensor& y) const {
  const ops::ConvSpec& s = spec_;
  CLIPKIT_CHECK(x.c == s.in_channels && y.n == x.n && y.c == s.out_channels &&
                    y.h == s.out_h(x.h) && y.w == s.out_w(x.w),
                "conv: input [", x.n, ", ", x.c, ", ", x.h, ", ", x.w, "] and output [", y.n, ", ",
                y.c, ", ", y.h, ", ", y.w, "] do not fit the layer [", s.out_channels, ", ",
                s.in_channels, ", ", s.kh, ", ", s.kw, "] stride ", s.stride, " pad ", s.pad);
  const int threads = ThreadPool::global().size();
  const int64_t n = x.n, block = ops::conv_layout_block(y.layout);
  const int64_t out_blocks = (s.out_channels + block - 1) / block;
  // Parts of the work per pool thread: whole images when there are enough, else each image
  // split into groups of whole output-channel blocks (contiguous in a blocked output).
  const int64_t groups = n >= threads ? 1 : std::min(out_blocks, (threads + n - 1) / n);
  if (conv_threading() == ConvThreading::kOpenMp || threads == 1 ||
      (n < threads && (block == 1 || groups == 1))) {
    OmpThreads omp(threads);
    run_part(x, y, 0, n, 0, s.out_channels);
    return;
  }
  const int64_t parts = groups > 1 ? n * groups : threads;
  parallel_for(parts, 1, [&](int64_t b, int64_t e) {
    OmpThreads omp(1);
    for (int64_t t = b; t < e; ++t) {
      if (groups > 1) {
        const int64_t image = t / groups, g = t % groups;
        const int64_t o0 = std::min(s.out_channels, out_blocks * g / groups * block);
        const int64_t o1 = std::min(s.out_channels, out_blocks * (g + 1) / groups * block);
        run_part(x, y, image, image + 1, o0, o1);
      } else {
        // `threads` ranges of n/threads images, the first n%threads of them one image longer.
        const int64_t per = n / threads, extra = n % threads;
        const int64_t i0 = t * per + std::min(t, extra);
        run_part(x, y, i0, i0 + per + (t < extra ? 1 : 0), 0, s.out_channels);
      }
    }
  });
}

}  // namespace

ops::ConvLayout onednn_conv_layout() {
  static const ops::ConvLayout layout = [] {
    // A 3x3 convolution of a ResNet stage, every layout left to oneDNN.
    const memory::dims src{1, 64, 56, 56}, wei{64, 64, 3, 3};
    const memory::desc any_src(src, memory::data_type::f32, Tag::any);
    const memory::desc any_wei(wei, memory::data_type::f32, Tag::any);
    try {
      const dnnl::convolution_forward::desc desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, any_src,
          any_wei, memory::desc(), any_src, {1, 1}, {1, 1}, {1, 1});
      const dnnl::convolution_forward::primitive_desc pd(desc, engine());
      for (ops::ConvLayout l : {ops::ConvLayout::kBlocked8, ops::ConvLayout::kBlocked16,
                                ops::ConvLayout::kNhwc, ops::ConvLayout::kNchw})
        if (pd.src_desc() == memory::desc(src, memory::data_type::f32, tag_of(l))) return l;
    } catch (const dnnl::error&) {
    }
    return ops::ConvLayout::kNhwc;  // supported by every implementation
  }();
  return layout;
}

ConvThreading conv_threading() { return conv_threading_mode().load(); }
void set_conv_threading(ConvThreading t) { conv_threading_mode().store(t); }

ops::ConvLayout CpuBackend::conv_layout() const { return onednn_conv_layout(); }

std::shared_ptr<const ops::PreparedConv> CpuBackend::prepare_conv(const ops::ConvSpec& spec) {
  ops::check_conv_spec(spec);
  return std::make_shared<OneDnnConv>(spec);
}

void CpuBackend::conv(const ops::PreparedConv& prepared, const ops::ConstConvTensor& x,
                      const ops::ConvTensor& y) {
  const auto* p = dynamic_cast<const OneDnnConv*>(&prepared);
  CLIPKIT_CHECK(p, "conv: the layer was prepared by another backend, not by ", name());
  p->run(x, y);
}

void CpuBackend::conv_reorder(const ops::ConstConvTensor& x, const ops::ConvTensor& y) {
  CLIPKIT_CHECK(x.n == y.n && x.c == y.c && x.h == y.h && x.w == y.w, "conv_reorder: shapes [",
                x.n, ", ", x.c, ", ", x.h, ", ", x.w, "] and [", y.n, ", ", y.c, ", ", y.h, ", ",
                y.w, "] differ");
  // Images are outermost in every layout: the pool converts ranges of whole images, each with a
  // single-threaded reorder (no OpenMP team, whose idle threads would spin after it).
  const int64_t x_image = ops::conv_layout_floats(x.layout, 1, x.c, x.h, x.w);
  const int64_t y_image = ops::conv_layout_floats(y.layout, 1, y.c, y.h, y.w);
  const int64_t parts = std::min<int64_t>(x.n, ThreadPool::global().size());
  parallel_for(parts, 1, [&](int64_t b, int64_t e) {
    OmpThreads omp(1);
    for (int64_t part = b; part < e; ++part) {
      const int64_t i0 = x.n * part / parts, i1 = x.n * (part + 1) / parts;
      try {
        memory src(activation_desc(x.layout, i1 - i0, x.c, x.h, x.w), engine(),
                   const_cast<float*>(x.data + i0 * x_image));
        memory dst(activation_desc(y.layout, i1 - i0, y.c, y.h, y.w), engine(), y.data + i0 * y_image);
        dnnl::reorder(src, dst).execute(thread_stream(), src, dst);
        thread_stream().wait();
      } catch (const dnnl::error& e) {
        fail("conv_reorder: oneDNN failed to convert [", x.n, ", ", x.c, ", ", x.h, ", ", x.w,
             "] from ", ops::conv_layout_name(x.layout), " to ", ops::conv_layout_name(y.layout),
             ": ", e.what());
      }
    }
  });
}

}  // namespace clipkit::cpu
