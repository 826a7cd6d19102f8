#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "io/npy.h"

using namespace clipkit;

TEST(Npy, RoundTrip) {
  const std::string path = ::testing::TempDir() + "/x.npy";
  Tensor t = Tensor::empty(DType::F32, {2, 3});
  for (int i = 0; i < 6; ++i) t.data<float>()[i] = float(i) - 2.5f;
  io::write_npy(path, t);
  Tensor r = io::read_npy(path);
  EXPECT_EQ(r.shape(), (Shape{2, 3}));
  EXPECT_EQ(r.dtype(), DType::F32);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(r.data<float>()[i], t.data<float>()[i]);
  Tensor v = Tensor::zeros(DType::I32, {4});
  io::write_npy(path, v);
  EXPECT_EQ(io::read_npy(path).shape(), (Shape{4}));
  std::remove(path.c_str());
}

TEST(Npy, HeaderIsWhatNumpyWrites) {
  // numpy.save(np.zeros((2, 3), np.float32)) header, byte for byte.
  const std::string path = ::testing::TempDir() + "/h.npy";
  io::write_npy(path, Tensor::zeros(DType::F32, {2, 3}));
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  ASSERT_EQ(s.size(), 128u + 24u);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_EQ(s.substr(0, 10), std::string("\x93NUMPY\x01\x00v\x00", 10));
  EXPECT_EQ(s.substr(10, dict.size()), dict);
  EXPECT_EQ(s.substr(10 + dict.size(), 117 - dict.size()), std::string(117 - dict.size(), ' '));
  EXPECT_EQ(s[127], '\n');
  std::remove(path.c_str());
}

TEST(Npy, RejectsBadFiles) {
  const std::string path = ::testing::TempDir() + "/bad.npy";
  {
    std::ofstream o(path, std::ios::binary);
    o << "not numpy at all";
  }
  EXPECT_THROW(io::read_npy(path), Error);
  io::write_npy(path, Tensor::zeros(DType::F32, {8}));
  {  // truncate the data
    std::ifstream in(path, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), {});
    std::ofstream o(path, std::ios::binary | std::ios::trunc);
    o << s.substr(0, s.size() - 4);
  }
  try {
    io::read_npy(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs 32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(io::read_npy(path + ".missing"), Error);
  std::remove(path.c_str());
}
