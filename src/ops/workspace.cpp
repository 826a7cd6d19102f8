#include "ops/workspace.h"

#include <algorithm>
#include <cstdlib>

#include "core/error.h"

namespace clipkit::ops {

namespace {
constexpr size_t kAlignFloats = 16;  // 64 bytes
constexpr size_t kMinBlockFloats = size_t(1) << 16;

std::shared_ptr<float> new_block(size_t floats) {
  const size_t bytes = std::max<size_t>(64, floats * sizeof(float));
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) fail("out of memory allocating a workspace block of ", bytes, " bytes");
  return std::shared_ptr<float>(static_cast<float*>(p), [](float* q) { std::free(q); });
}

size_t round_up(size_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }
}  // namespace

void Workspace::reset() {
  if (blocks_.size() > 1) {
    // One block holds the whole pass: with a single block, usage at every moment is in_use_.
    const size_t size = std::max(peak_, kMinBlockFloats);
    blocks_.clear();
    blocks_.push_back({new_block(size), size, 0});
  }
  if (!blocks_.empty()) blocks_[0].used = 0;
  cur_ = 0;
  in_use_ = 0;
}

size_t Workspace::block_for(size_t n) {
  while (cur_ < blocks_.size() && blocks_[cur_].size - blocks_[cur_].used < n) {
    if (++cur_ < blocks_.size()) blocks_[cur_].used = 0;
  }
  if (cur_ == blocks_.size()) {
    const size_t last = blocks_.empty() ? 0 : blocks_.back().size;
    const size_t size = std::max({n, last * 2, kMinBlockFloats});
    blocks_.push_back({new_block(size), size, 0});
  }
  return cur_;
}

float* Workspace::alloc_floats(size_t n) {
  const size_t rounded = round_up(n);
  Block& b = blocks_[block_for(rounded)];
  float* p = b.data.get() + b.used;
  b.used += rounded;
  in_use_ += rounded;
  peak_ = std::max(peak_, in_use_);
  return p;
}

Tensor Workspace::alloc(Shape shape) {
  for (int64_t d : shape) CLIPKIT_CHECK(d >= 0, "workspace allocation with shape ", shape_str(shape));
  const size_t rounded = round_up(size_t(shape_numel(shape)));
  const size_t bi = block_for(rounded);
  Block& b = blocks_[bi];
  float* p = b.data.get() + b.used;
  b.used += rounded;
  in_use_ += rounded;
  peak_ = std::max(peak_, in_use_);
  return Tensor::view(b.data, p, DType::F32, std::move(shape));
}

Workspace::Mark Workspace::mark() const {
  return {cur_, blocks_.empty() ? 0 : blocks_[std::min(cur_, blocks_.size() - 1)].used, in_use_};
}

void Workspace::rewind(const Mark& m) {
  if (blocks_.empty()) return;
  CLIPKIT_CHECK(m.block < blocks_.size() && m.block <= cur_ && m.in_use <= in_use_,
                "workspace: rewind to a position that is not behind the current one");
  cur_ = m.block;
  blocks_[cur_].used = m.used;
  in_use_ = m.in_use;
}

size_t Workspace::capacity_floats() const {
  size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  return total;
}

}  // namespace clipkit::ops
