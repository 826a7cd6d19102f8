// Workspace: a bump allocator for the float32 activations of one forward (or backward) pass. The
// model resets it at the start of a pass and takes every intermediate buffer from it, so after the
// first pass of a given batch size no memory is allocated at all. Scratch that is only needed for
// a while (unfolded patches, a ResNet block's intermediates) is given back with mark()/rewind(),
// which keeps the footprint at the largest working set instead of the sum over the pass.
//
// Blocks are 64-byte aligned; tensors handed out keep their block alive (they share its owner), so
// a result that escapes the pass stays valid, although its memory is reused by later allocations
// after reset() or rewind().
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace clipkit::ops {

class Workspace {
 public:
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // Releases every allocation of the pass. When the previous pass needed more than one block,
  // they are replaced by one block of the pass's peak size.
  void reset();
  // A contiguous float32 tensor of `shape` (uninitialised).
  Tensor alloc(Shape shape);
  // Raw float storage of `n` elements (uninitialised, 64-byte aligned).
  float* alloc_floats(size_t n);

  // A position to return to: rewind(m) releases everything allocated after mark() returned m.
  struct Mark {
    size_t block = 0, used = 0, in_use = 0;
  };
  Mark mark() const;
  void rewind(const Mark& m);

  size_t capacity_floats() const;  // total floats held in all blocks
  size_t peak_floats() const { return peak_; }

 private:
  struct Block {
    std::shared_ptr<float> data;
    size_t size = 0;  // floats
    size_t used = 0;
  };
  // Index of the block the next `n` floats come from (allocations only move forward through the
  // blocks, so a mark is one position).
  size_t block_for(size_t n);

  std::vector<Block> blocks_;
  size_t cur_ = 0;
  size_t in_use_ = 0;  // floats allocated in this pass (without the tails left in earlier blocks)
  size_t peak_ = 0;
};

}  // namespace clipkit::ops
