#include "ops/workspace.h"

#include <algorithm>
#include <cstdlib>

#include "core/error.h"

namespace clipkit::ops {

namespace {
constexpr size_t kAlignFloats = 16;  // 64 bytes

std::shared_ptr<float> new_block(size_t floats) {
  const size_t bytes = std::max<size_t>(64, floats * sizeof(float));
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) fail("out of memory allocating a workspace block of ", bytes, " bytes");
  return std::shared_ptr<float>(static_cast<float*>(p), [](float* q) { std::free(q); });
}
}  // namespace

void Workspace::reset() {
  if (blocks_.size() > 1) {
    // Merge: one block that holds the whole previous pass, so the next pass takes one block only.
    size_t total = 0;
    for (const Block& b : blocks_) total += b.size;
    blocks_.clear();
    blocks_.push_back({new_block(total), total, 0});
  }
  for (Block& b : blocks_) b.used = 0;
  in_use_ = 0;
}

Workspace::Block& Workspace::block_for(size_t n) {
  for (Block& b : blocks_)
    if (b.size - b.used >= n) return b;
  const size_t last = blocks_.empty() ? 0 : blocks_.back().size;
  const size_t size = std::max({n, last * 2, size_t(1) << 16});
  blocks_.push_back({new_block(size), size, 0});
  return blocks_.back();
}

float* Workspace::alloc_floats(size_t n) {
  const size_t rounded = (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  Block& b = block_for(rounded);
  float* p = b.data.get() + b.used;
  b.used += rounded;
  in_use_ += rounded;
  peak_ = std::max(peak_, in_use_);
  return p;
}

Tensor Workspace::alloc(Shape shape) {
  for (int64_t d : shape) CLIPKIT_CHECK(d >= 0, "workspace allocation with shape ", shape_str(shape));
  const size_t n = size_t(shape_numel(shape));
  const size_t rounded = (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  Block& b = block_for(rounded);
  float* p = b.data.get() + b.used;
  b.used += rounded;
  in_use_ += rounded;
  peak_ = std::max(peak_, in_use_);
  return Tensor::view(b.data, p, DType::F32, std::move(shape));
}

size_t Workspace::capacity_floats() const {
  size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  return total;
}

}  // namespace clipkit::ops
