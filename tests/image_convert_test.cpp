// convert_to_rgb and exif_transpose against Pillow 9.4 (tests/data/images_extra/convert.safetensors
// and reference.json, made by make_images.py).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "image/decode.h"
#include "io/safetensors.h"

using namespace clipkit;
using namespace clipkit::image;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

struct ModeCase {
  const char* key;
  Mode mode;
};

const ModeCase kModes[] = {
    {"1", Mode::kOne},   {"L", Mode::kL},       {"LA", Mode::kLA},     {"P", Mode::kP},
    {"PA", Mode::kPA},   {"RGB", Mode::kRGB},   {"RGBA", Mode::kRGBA}, {"CMYK", Mode::kCMYK},
    {"I;16", Mode::kI16}, {"I", Mode::kI},      {"F", Mode::kF},
};

std::vector<uint8_t> bytes_of(const Tensor& t) {
  const uint8_t* p = t.data<uint8_t>();
  return std::vector<uint8_t>(p, p + t.numel());
}

Image synthetic(const io::SafetensorsFile& f, const ModeCase& c) {
  const Tensor& rgb = f.get(std::string(c.key) + ".rgb");
  Image img;
  img.height = int(rgb.dim(0));
  img.width = int(rgb.dim(1));
  img.mode = c.mode;
  img.pixels = bytes_of(f.get(std::string(c.key) + ".in"));
  const std::string pal = std::string(c.key) + ".palette";
  if (f.contains(pal)) {
    const Tensor& p = f.get(pal);
    for (int64_t i = 0; i < p.dim(0); ++i) {
      const uint8_t* e = p.data<uint8_t>() + 3 * i;
      img.palette.push_back({e[0], e[1], e[2], 255});
    }
  }
  return img;
}

}  // namespace

TEST(ImageConvert, EveryModeMatchesPillowConvertRGB) {
  const auto f = io::SafetensorsFile::open(kData + "/images_extra/convert.safetensors");
  for (const ModeCase& c : kModes) {
    SCOPED_TRACE(c.key);
    const Image img = synthetic(f, c);
    ASSERT_EQ(img.pixels.size(), size_t(img.width) * img.height * img.channels() * mode_sample_bytes(img.mode));
    const Image rgb = convert_to_rgb(img);
    EXPECT_EQ(rgb.mode, Mode::kRGB);
    EXPECT_EQ(rgb.width, img.width);
    EXPECT_EQ(rgb.height, img.height);
    const std::vector<uint8_t> want = bytes_of(f.get(std::string(c.key) + ".rgb"));
    ASSERT_EQ(rgb.pixels.size(), want.size());
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < want.size(); ++i)
      if (rgb.pixels[i] != want[i] && bad++ == 0) first = i;
    EXPECT_EQ(bad, 0u) << "first difference at byte " << first << ": got " << int(rgb.pixels[first])
                       << ", Pillow " << int(want[first]);
  }
}

TEST(ImageConvert, CmykFormulaOnKnownValues) {
  // nk = 255 - K; R = clamp(nk - MULDIV255(C, nk)): spot values computed by hand from the formula
  // are a second check on the fixture (which holds Pillow's own output).
  Image img;
  img.width = 3;
  img.height = 1;
  img.mode = Mode::kCMYK;
  img.pixels = {0, 0, 0, 0, 255, 255, 255, 255, 128, 64, 0, 100};
  const Image rgb = convert_to_rgb(img);
  const std::vector<uint8_t> want = {255, 255, 255, 0, 0, 0, 77, 116, 155};
  EXPECT_EQ(rgb.pixels, want);
}

TEST(ImageConvert, RejectsInconsistentBuffers) {
  Image img;
  img.width = 4;
  img.height = 4;
  img.mode = Mode::kRGBA;
  img.pixels.resize(10);
  EXPECT_THROW(convert_to_rgb(img), Error);
  EXPECT_THROW(exif_transpose(img), Error);
}

// The eight orientations on a small image whose pixels are all distinct, against the geometry of
// Pillow's Image.transpose (checked on generated JPEGs below against Pillow's own output).
TEST(ImageConvert, ExifTransposeGeometry) {
  Image img;
  img.width = 3;
  img.height = 2;
  img.mode = Mode::kL;
  img.pixels = {1, 2, 3, 4, 5, 6};  // rows: [1 2 3] [4 5 6]
  const std::vector<std::vector<uint8_t>> want = {
      {1, 2, 3, 4, 5, 6},  // 1: as is
      {3, 2, 1, 6, 5, 4},  // 2: mirror left-right
      {6, 5, 4, 3, 2, 1},  // 3: rotate 180
      {4, 5, 6, 1, 2, 3},  // 4: mirror top-bottom
      {1, 4, 2, 5, 3, 6},  // 5: transpose (3 rows of 2)
      {4, 1, 5, 2, 6, 3},  // 6: rotate 90 clockwise
      {6, 3, 5, 2, 4, 1},  // 7: transverse
      {3, 6, 2, 5, 1, 4},  // 8: rotate 90 counter-clockwise
  };
  for (int o = 1; o <= 8; ++o) {
    SCOPED_TRACE(o);
    img.exif_orientation = o;
    const Image t = exif_transpose(img);
    EXPECT_EQ(t.pixels, want[o - 1]);
    EXPECT_EQ(t.width, o >= 5 ? 2 : 3);
    EXPECT_EQ(t.height, o >= 5 ? 3 : 2);
    EXPECT_EQ(t.exif_orientation, 1);
  }
}

// Pillow's exif_transpose on the fixture photo with orientation 6 (213x320 after rotation) and on
// generated JPEGs with every orientation: sizes and checksums come from reference.json via
// image_decode_test; here the rotated fixture is also checked pixel by pixel against a rotation
// of Pillow's decoded pixels (decoded.safetensors).
TEST(ImageConvert, ExifTransposeOfFixtureMatchesRotatedPillowPixels) {
  const Image img = decode_file(kData + "/images/exif_orientation6.jpg");
  ASSERT_EQ(img.exif_orientation, 6);
  const Image t = exif_transpose(img);
  ASSERT_EQ(t.width, 213);
  ASSERT_EQ(t.height, 320);
  const auto decoded = io::SafetensorsFile::open(kData + "/preprocess/decoded.safetensors");
  const Tensor& ref = decoded.get("exif_orientation6.jpg");  // [213, 320, 3], stored orientation
  ASSERT_EQ(ref.dim(0), 213);
  const uint8_t* r = ref.data<uint8_t>();
  size_t bad = 0;
  for (int y = 0; y < t.height; ++y)
    for (int x = 0; x < t.width; ++x)
      for (int c = 0; c < 3; ++c) {
        // Rotating 90 degrees clockwise: output (x, y) shows stored pixel (col y, row h-1-x).
        const uint8_t want = r[(size_t(212 - x) * 320 + y) * 3 + c];
        if (t.pixels[(size_t(y) * t.width + x) * 3 + c] != want) ++bad;
      }
  EXPECT_EQ(bad, 0u);
}
