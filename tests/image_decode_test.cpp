// Decoding against Pillow 9.4: the fixture images (modes, sizes, EXIF orientation from
// tests/data/preprocess/index.json; JPEG pixels from decoded.safetensors), Pillow-made references
// for generated images in every format (tests/data/images_extra, made by make_images.py), and
// clear errors for malformed input.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>
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

// FNV-1a 64, the checksum make_images.py stores (as 16 hex digits).
std::string fnv1a64(const uint8_t* p, size_t n) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001B3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
std::string fnv1a64(const std::vector<uint8_t>& v) { return fnv1a64(v.data(), v.size()); }

const nlohmann::json& extra_reference() {
  static const nlohmann::json ref = load_json(kData + "/images_extra/reference.json");
  return ref;
}

// Compares a decoded image with Pillow's description of the same file (see make_images.py).
void expect_matches_pillow(const Image& img, const nlohmann::json& e) {
  EXPECT_EQ(img.format, e["format"].get<std::string>());
  EXPECT_EQ(mode_name(img.mode), e["mode"].get<std::string>());
  EXPECT_EQ(img.width, e["width"].get<int>());
  EXPECT_EQ(img.height, e["height"].get<int>());
  EXPECT_EQ(img.exif_orientation, e["orientation"].get<int>());
  ASSERT_EQ(img.pixels.size(), size_t(img.height) * img.row_bytes());
  EXPECT_EQ(fnv1a64(img.pixels), e["pixels_fnv"].get<std::string>()) << "decoded samples differ from Pillow's";
  if (e.contains("palette")) {
    const auto& pal = e["palette"];
    ASSERT_EQ(img.palette.size(), pal["entries"].get<size_t>());
    std::vector<uint8_t> rgb;
    for (const auto& c : img.palette) rgb.insert(rgb.end(), c.begin(), c.begin() + 3);
    EXPECT_EQ(fnv1a64(rgb), pal["rgb_fnv"].get<std::string>()) << "palette differs";
    const auto alpha = pal["alpha"].get<std::vector<int>>();
    for (size_t i = 0; i < img.palette.size(); ++i) EXPECT_EQ(img.palette[i][3], alpha[i]) << "palette alpha " << i;
    EXPECT_EQ(img.palette_has_alpha, pal["has_alpha"].get<bool>());
  } else {
    EXPECT_TRUE(img.palette.empty());
  }
  const Image rgb = convert_to_rgb(img);
  EXPECT_EQ(rgb.mode, Mode::kRGB);
  EXPECT_EQ(fnv1a64(rgb.pixels), e["rgb_fnv"].get<std::string>()) << "convert(\"RGB\") differs";
  const Image t = exif_transpose(img);
  EXPECT_EQ(t.width, e["transposed"]["width"].get<int>());
  EXPECT_EQ(t.height, e["transposed"]["height"].get<int>());
  EXPECT_EQ(t.exif_orientation, 1);
  EXPECT_EQ(fnv1a64(t.pixels), e["transposed"]["pixels_fnv"].get<std::string>()) << "exif_transpose differs";
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

// Every generated image (all formats and layouts) and every fixture image, against Pillow.
TEST(ImageDecode, MatchesPillowOnEveryReferenceImage) {
  const auto& images = extra_reference()["images"];
  ASSERT_GE(images.size(), 100u);
  for (const auto& [file, e] : images.items()) {
    SCOPED_TRACE(file);
    Image img;
    try {
      img = decode_file(kData + "/" + file);
    } catch (const Error& err) {
      ADD_FAILURE() << "decode failed: " << err.what();
      continue;
    }
    expect_matches_pillow(img, e);
  }
}

// Malformed files: an Error wherever Pillow refuses the file, Pillow's pixels where it does not.
TEST(ImageDecode, MalformedFilesFollowPillow) {
  const auto& bad = extra_reference()["bad"];
  ASSERT_GE(bad.size(), 20u);
  for (const auto& [file, e] : bad.items()) {
    SCOPED_TRACE(file);
    const std::string path = kData + "/" + file;
    if (e["pillow_refuses"].get<bool>()) {
      EXPECT_THROW(decode_file(path), Error);
    } else {
      expect_matches_pillow(decode_file(path), e);
    }
  }
}

TEST(ImageDecode, TruncatedFilesFollowPillow) {
  const auto& cases = extra_reference()["truncated"];
  ASSERT_GE(cases.size(), 300u);
  std::map<std::string, std::vector<uint8_t>> sources;
  int refused = 0;
  for (const auto& e : cases) {
    const std::string src = e["source"].get<std::string>();
    const size_t len = e["length"].get<size_t>();
    SCOPED_TRACE(src + " cut at " + std::to_string(len));
    auto it = sources.find(src);
    if (it == sources.end()) it = sources.emplace(src, read_bytes(kData + "/" + src)).first;
    ASSERT_LT(len, it->second.size());
    // A copy of exactly `len` bytes, so that any read past the end is caught by the sanitizers.
    const std::vector<uint8_t> cut(it->second.begin(), it->second.begin() + len);
    if (e["pillow_refuses"].get<bool>()) {
      ++refused;
      try {
        decode_memory(cut.data(), cut.size(), src);
        ADD_FAILURE() << "decoded, but Pillow refuses this file";
      } catch (const Error& err) {
        // The message names the file.
        EXPECT_NE(std::string(err.what()).find(src), std::string::npos) << err.what();
      }
    } else {
      try {
        expect_matches_pillow(decode_memory(cut.data(), cut.size(), src), e);
      } catch (const Error& err) {
        ADD_FAILURE() << "Pillow opens this file, decode failed: " << err.what();
      }
    }
  }
  EXPECT_GT(refused, 200);
}
