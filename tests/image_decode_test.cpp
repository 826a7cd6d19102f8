// Decoding against Pillow 9.4: the fixture images (modes, sizes, EXIF orientation from
// tests/data/preprocess/index.json; JPEG pixels from decoded.safetensors), Pillow-made references
// for generated images in every format (tests/data/images_extra, made by make_images.py), and
// clear errors for malformed input.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "image/decode.h"
#include "io/safetensors.h"

using namespace clipkit;
using namespace clipkit::image;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  const std::string s = read_file(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

}  // namespace

TEST(ImageDecode, FixtureImagesHavePillowModeSizeAndOrientation) {
  const auto index = load_json(kData + "/preprocess/index.json");
  int checked = 0;
  for (const auto& [name, e] : index.items()) {
    SCOPED_TRACE(name);
    const Image img = decode_file(kData + "/" + e["file"].get<std::string>());
    EXPECT_EQ(mode_name(img.mode), e["pil_mode"].get<std::string>());
    EXPECT_EQ(img.format, e["pil_format"].get<std::string>());
    EXPECT_EQ(img.width, e["width"].get<int>());
    EXPECT_EQ(img.height, e["height"].get<int>());
    const int orientation = e["exif_orientation"].is_null() ? 1 : e["exif_orientation"].get<int>();
    EXPECT_EQ(img.exif_orientation, orientation);
    EXPECT_EQ(img.pixels.size(), size_t(img.height) * img.row_bytes());
    if (e.contains("palette_entries")) EXPECT_EQ(img.palette.size(), e["palette_entries"].get<size_t>());
    ++checked;
  }
  EXPECT_EQ(checked, 12);
}

TEST(ImageDecode, JpegPixelsMatchPillowBitExactly) {
  const auto index = load_json(kData + "/preprocess/index.json");
  const auto decoded = io::SafetensorsFile::open(kData + "/preprocess/decoded.safetensors");
  int checked = 0;
  for (const auto& [name, e] : index.items()) {
    if (!e.contains("decoded_key")) continue;
    SCOPED_TRACE(name);
    const Tensor& ref = decoded.get(e["decoded_key"].get<std::string>());
    ASSERT_EQ(ref.dtype(), DType::U8);
    const Image img = decode_file(kData + "/" + e["file"].get<std::string>());
    ASSERT_EQ(ref.ndim(), 3);
    ASSERT_EQ(ref.dim(0), img.height);
    ASSERT_EQ(ref.dim(1), img.width);
    ASSERT_EQ(ref.dim(2), img.channels());
    ASSERT_EQ(img.pixels.size(), size_t(ref.numel()));
    const uint8_t* want = ref.data<uint8_t>();
    size_t mismatches = 0, first = 0;
    for (size_t i = 0; i < img.pixels.size(); ++i)
      if (img.pixels[i] != want[i] && mismatches++ == 0) first = i;
    EXPECT_EQ(mismatches, 0u) << "first mismatch at byte " << first;
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}
