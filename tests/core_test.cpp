#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "io/safetensors.h"

using namespace clipkit;

TEST(DType, HalfRoundTripsEveryFiniteValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if (((h >> 10) & 0x1f) == 0x1f) continue;  // inf / nan
    const float f = f16_to_f32(uint16_t(h));
    ASSERT_EQ(f32_to_f16(f), h) << "half bits " << h;
  }
}

TEST(DType, HalfRoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);  // tie -> even
  EXPECT_EQ(f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);            // rounds to inf
  EXPECT_EQ(f32_to_f16(5.9604645e-08f), 0x0001);      // smallest subnormal
  EXPECT_EQ(f32_to_f16(2.9802322e-08f), 0x0000);      // half of it: tie -> even (0)
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
}

TEST(DType, BFloat16) {
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.5f)), 1.5f);
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3f82);
}

TEST(Tensor, TransposeSliceAndConvert) {
  Tensor t = Tensor::empty(DType::F32, {2, 3});
  for (int i = 0; i < 6; ++i) t.data<float>()[i] = float(i);
  Tensor tt = t.transpose();
  EXPECT_EQ(tt.shape(), (Shape{3, 2}));
  EXPECT_FALSE(tt.is_contiguous());
  Tensor c = tt.contiguous();
  const float expect[] = {0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(c.data<float>()[i], expect[i]);
  Tensor h = t.to(DType::F16).to(DType::F64);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(h.data<double>()[i], double(i));
  Tensor row = t[1];
  EXPECT_EQ(row.shape(), (Shape{3}));
  EXPECT_EQ(row.data<float>()[0], 3.0f);
  EXPECT_THROW(t.slice(1, 2, 4), Error);
  EXPECT_THROW(t.reshape({4, 2}), Error);
}

TEST(ThreadPool, CoversRangeAndPropagatesErrors) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(1000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[i]++;
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_THROW(pool.parallel_for(10, [](int64_t b, int64_t) {
    if (b == 0) fail("boom");
  }), Error);
  // still usable after an error
  std::atomic<int> n{0};
  pool.parallel_for(5, [&](int64_t b, int64_t e) { n += int(e - b); });
  EXPECT_EQ(n.load(), 5);
}

// Back-to-back regions (caught while the workers poll), regions after a pause longer than the
// polling window (workers asleep), and a slow chunk that outlasts the caller's polling (the caller
// sleeps until it is done), for a pool that sleeps at once, one with a short window and one whose
// window outlasts the test: every item is covered exactly once, and destruction ends the polling
// (a hang here is a failure by the test runner's timeout).
TEST(ThreadPool, PollingThenSleepingCoversEveryRegion) {
  for (int spin_us : {0, 50, 10'000'000}) {
    ThreadPool pool(3, spin_us);
    EXPECT_EQ(pool.spin_us(), spin_us);
    int64_t expected = 0;
    std::atomic<int64_t> total{0};
    for (int region = 0; region < 300; ++region) {
      const int64_t n = 1 + region % 7;
      if (region % 50 == 49) std::this_thread::sleep_for(std::chrono::microseconds(300));
      pool.parallel_for(n, [&](int64_t b, int64_t e) {
        if (region % 60 == 59 && b == n - 1)
          std::this_thread::sleep_for(std::chrono::microseconds(400));
        total += e - b;
      });
      expected += n;
    }
    EXPECT_EQ(total.load(), expected) << "spin " << spin_us << " us";
  }
}

TEST(ThreadPool, NestedParallelForRunsInline) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  pool.parallel_for(8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      pool.parallel_for(100, [&](int64_t bb, int64_t ee) { total += ee - bb; });
  });
  EXPECT_EQ(total.load(), 800);
}

TEST(Safetensors, RoundTripAndFixtureMetadata) {
  const std::string path = ::testing::TempDir() + "/rt.safetensors";
  Tensor a = Tensor::empty(DType::F32, {2, 2});
  for (int i = 0; i < 4; ++i) a.data<float>()[i] = 0.5f * float(i);
  Tensor b = Tensor::zeros(DType::U8, {3});
  b.data<uint8_t>()[2] = 7;
  io::write_safetensors(path, {{"a", a.transpose()}, {"b", b}}, {{"k", "v"}});
  auto f = io::SafetensorsFile::open(path);
  EXPECT_EQ(f.metadata().at("k"), "v");
  EXPECT_EQ(f.get("a").shape(), (Shape{2, 2}));
  EXPECT_EQ(f.get("a").data<float>()[1], 1.0f);  // transposed on write
  EXPECT_EQ(f.get("b").data<uint8_t>()[2], 7);
  EXPECT_THROW(f.get("c"), Error);
  std::remove(path.c_str());

  auto g = io::SafetensorsFile::open(std::string(CLIPKIT_TEST_DATA) + "/goldens/tiny_vit.safetensors");
  EXPECT_EQ(g.get("input_ids").shape(), (Shape{6, 77}));
  EXPECT_EQ(g.get("input_ids").dtype(), DType::I32);
  EXPECT_TRUE(g.metadata().count("prompts"));
}

namespace {
std::string with_header(const std::string& header, size_t data_bytes) {
  std::string s(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) s[i] = char(n >> (8 * i));
  return s + header + std::string(data_bytes, '\0');
}
void expect_error(const std::string& bytes, const std::string& needle) {
  auto owner = std::make_shared<std::string>(bytes);
  try {
    io::SafetensorsFile::parse(owner, reinterpret_cast<const unsigned char*>(owner->data()),
                               owner->size(), "test.safetensors");
    FAIL() << "no error for case expecting '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(Safetensors, RejectsLyingHeaders) {
  expect_error("abc", "shorter than");
  expect_error(std::string("\xff\xff\xff\xff\0\0\0\0", 8), "runs past");
  expect_error(with_header("{not json", 0), "not valid JSON");
  expect_error(with_header(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "outside the data area");
  expect_error(with_header(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12");
  expect_error(with_header(R"({"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype");
  expect_error(with_header(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "overlap");
  expect_error(with_header(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "negative");
  expect_error(with_header(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "outside");
  expect_error(with_header(R"({"__metadata__":{"a":1}})", 0), "not a string");
}
