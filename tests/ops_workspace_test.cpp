// ops::Workspace: alignment, reuse after reset, mark/rewind, and the single-block steady state.
#include <gtest/gtest.h>

#include <cstdint>

#include "core/error.h"
#include "ops/workspace.h"

namespace clipkit {
namespace {

bool aligned64(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

TEST(Workspace, AllocationsAreAlignedAndDisjoint) {
  ops::Workspace ws;
  Tensor a = ws.alloc({3, 5});
  float* b = ws.alloc_floats(7);
  Tensor c = ws.alloc({100000});  // larger than the first block: a second block
  EXPECT_TRUE(aligned64(a.raw()) && aligned64(b) && aligned64(c.raw()));
  EXPECT_EQ(a.shape(), Shape({3, 5}));
  EXPECT_EQ(a.dtype(), DType::F32);
  EXPECT_GE(b, a.data<float>() + 15);
  EXPECT_GE(ws.peak_floats(), size_t(100000 + 16 + 16));
}

TEST(Workspace, ResetMergesIntoOneBlockOfThePeak) {
  ops::Workspace ws;
  for (int i = 0; i < 5; ++i) ws.alloc({40000});
  EXPECT_GT(ws.capacity_floats(), size_t(200000));
  const size_t peak = ws.peak_floats();
  ws.reset();
  EXPECT_EQ(ws.capacity_floats(), peak);
  // The same pass again fits without growing, and starts at the same address.
  const void* first = ws.alloc({40000}).raw();
  for (int i = 0; i < 4; ++i) ws.alloc({40000});
  EXPECT_EQ(ws.capacity_floats(), peak);
  ws.reset();
  EXPECT_EQ(ws.alloc({40000}).raw(), first);
}

TEST(Workspace, RewindReleasesLaterAllocations) {
  ops::Workspace ws;
  Tensor keep = ws.alloc({1000});
  const auto m = ws.mark();
  const void* scratch = ws.alloc({5000}).raw();
  ws.alloc({5000});
  ws.rewind(m);
  EXPECT_EQ(ws.alloc({10}).raw(), scratch);  // the space is handed out again
  // Peak counts the high-water mark, not the sum.
  ws.rewind(m);
  ws.alloc({5000});
  EXPECT_LE(ws.peak_floats(), size_t(1008 + 10016));
  EXPECT_EQ(keep.numel(), 1000);
}

TEST(Workspace, RewindAcrossBlocks) {
  ops::Workspace ws;
  ws.alloc({60000});
  const auto m = ws.mark();
  ws.alloc({60000});  // forces a new block
  ws.alloc({200000});
  ws.rewind(m);
  const size_t cap = ws.capacity_floats();
  ws.alloc({60000});
  ws.alloc({200000});
  EXPECT_EQ(ws.capacity_floats(), cap);  // the blocks made before are reused
}

TEST(Workspace, RewindForwardIsRefused) {
  ops::Workspace ws;
  ws.alloc({10});
  ws.reset();
  ws.alloc({10});
  const auto m = ws.mark();
  ws.reset();
  EXPECT_THROW(ws.rewind(m), Error);
}

}  // namespace
}  // namespace clipkit
