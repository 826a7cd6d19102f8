// CLIP preprocessing against the reference pipelines' own outputs:
//  * tests/data/preprocess/pixels.safetensors — OpenAI's clip._transform (torchvision 0.14,
//    Pillow 9.4) for all 12 fixture images at 224 and two at 336, from the files (decode_file)
//    and, for the JPEGs, from Pillow's decoded pixels (decoded.safetensors) so the resize path is
//    tested independently of the JPEG decoder;
//  * tests/data/hf/pixels.safetensors — transformers' CLIPImageProcessor at 224 and 32.
// The 8-bit crop must be identical to the reference's (recovered as round((x * std + mean) * 255),
// see tests/data/README.md) and the normalised tensor within 1e-6.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "image/batch.h"
#include "image/decode.h"
#include "image/preprocess.h"
#include "io/safetensors.h"

namespace ci = clipkit::image;
using clipkit::Tensor;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

struct Compare {
  size_t u8_mismatch = 0;
  double max_err = 0;
};

// Compares our output with a reference [3, S, S] tensor.
Compare compare(const ci::Preprocessed& got, const Tensor& want, const ci::PreprocessOptions& o) {
  Compare c;
  const int S = int(want.dim(1));
  EXPECT_EQ(got.crop.width, S);
  EXPECT_EQ(got.crop.height, S);
  if (got.crop.width != S || got.crop.height != S) {
    c.u8_mismatch = size_t(-1);
    return c;
  }
  const float* w = want.data<float>();
  const float* g = got.pixels.data<float>();
  for (int ch = 0; ch < 3; ++ch)
    for (int i = 0; i < S * S; ++i) {
      const float x = w[ch * S * S + i];
      const long u = std::lround((double(x) * o.std[ch] + o.mean[ch]) * 255.0);
      if (u != got.crop.pixels[size_t(i) * 3 + ch]) ++c.u8_mismatch;
      c.max_err = std::max(c.max_err, double(std::fabs(g[ch * S * S + i] - x)));
    }
  return c;
}

ci::Image image_from_decoded(const Tensor& t) {
  ci::Image img;
  img.height = int(t.dim(0));
  img.width = int(t.dim(1));
  img.mode = t.dim(2) == 4 ? ci::Mode::kCMYK : ci::Mode::kRGB;
  img.pixels.assign(static_cast<const uint8_t*>(t.raw()),
                    static_cast<const uint8_t*>(t.raw()) + t.nbytes());
  return img;
}

void split_key(const std::string& key, std::string* file, int* size) {
  const size_t at = key.rfind('@');
  *file = key.substr(0, at);
  *size = std::stoi(key.substr(at + 1));
}

}  // namespace

TEST(PreprocessOpenAI, AllFixtureImagesFromFiles) {
  auto ref = clipkit::io::SafetensorsFile::open(kData + "/preprocess/pixels.safetensors");
  std::ifstream idx_in(kData + "/preprocess/index.json");
  const auto index = nlohmann::json::parse(idx_in);
  int n = 0;
  for (const auto& key : ref.names()) {
    std::string file;
    int size;
    split_key(key, &file, &size);
    ci::PreprocessOptions o;
    o.size = o.crop_size = size;
    const ci::Preprocessed got = ci::preprocess_file(kData + "/images/" + file, o);
    const Compare c = compare(got, ref.get(key), o);
    std::printf("  openai %-30s u8 mismatches %zu  max |err| %.3g\n", key.c_str(), c.u8_mismatch,
                c.max_err);
    EXPECT_EQ(c.u8_mismatch, 0u) << key;
    EXPECT_LE(c.max_err, 1e-6) << key;
    // The geometry the reference recorded.
    const auto& out = index.at(file).at("outputs").at(key);
    EXPECT_EQ(got.plan.resized_width, out.at("resized_width").get<int>()) << key;
    EXPECT_EQ(got.plan.resized_height, out.at("resized_height").get<int>()) << key;
    EXPECT_EQ(got.plan.crop_left, out.at("crop_left").get<int>()) << key;
    EXPECT_EQ(got.plan.crop_top, out.at("crop_top").get<int>()) << key;
    EXPECT_EQ(got.plan.resize_skipped, out.at("resize_skipped").get<bool>()) << key;
    ++n;
  }
  EXPECT_EQ(n, 14);
}

TEST(PreprocessOpenAI, JpegsFromPillowsDecodedPixels) {
  auto ref = clipkit::io::SafetensorsFile::open(kData + "/preprocess/pixels.safetensors");
  auto dec = clipkit::io::SafetensorsFile::open(kData + "/preprocess/decoded.safetensors");
  int n = 0;
  for (const auto& key : ref.names()) {
    std::string file;
    int size;
    split_key(key, &file, &size);
    if (!dec.contains(file)) continue;
    ci::PreprocessOptions o;
    o.size = o.crop_size = size;
    const ci::Preprocessed got = ci::preprocess(image_from_decoded(dec.get(file)), o);
    const Compare c = compare(got, ref.get(key), o);
    std::printf("  openai (Pillow-decoded) %-30s u8 mismatches %zu  max |err| %.3g\n", key.c_str(),
                c.u8_mismatch, c.max_err);
    EXPECT_EQ(c.u8_mismatch, 0u) << key;
    EXPECT_LE(c.max_err, 1e-6) << key;
    ++n;
  }
  EXPECT_EQ(n, 5);  // rocket, cmyk, exif_orientation6 at 224; motorcycle at 224 and 336
}

TEST(PreprocessHF, CLIPImageProcessorAt224And32) {
  auto ref = clipkit::io::SafetensorsFile::open(kData + "/hf/pixels.safetensors");
  int n = 0;
  for (const auto& key : ref.names()) {
    std::string file;
    int size;
    split_key(key, &file, &size);
    ci::PreprocessOptions o;
    o.profile = clipkit::io::PreprocessProfile::kHF;
    o.size = o.crop_size = size;
    const ci::Preprocessed got = ci::preprocess_file(kData + "/hf/images/" + file, o);
    const Compare c = compare(got, ref.get(key), o);
    std::printf("  hf %-22s u8 mismatches %zu  max |err| %.3g\n", key.c_str(), c.u8_mismatch,
                c.max_err);
    EXPECT_EQ(c.u8_mismatch, 0u) << key;
    EXPECT_LE(c.max_err, 1e-6) << key;
    ++n;
  }
  EXPECT_EQ(n, 12);
}

// Geometry of the other modes and of padding, from the reference formulas (torchvision's
// Resize/CenterCrop, OpenCLIP's ResizeKeepRatio/CenterCropOrPad, transformers' two backends).
TEST(PreprocessGeometry, LongestSquashAndPadding) {
  using clipkit::io::ResizeMode;
  ci::PreprocessOptions o;
  o.resize_mode = ResizeMode::kLongest;
  o.fill_color = 17;
  // ratio = 640 / 224; height round(427 / ratio) = round(149.45) = 149; padded top by 75 // 2.
  ci::PreprocessPlan p = ci::plan_preprocess(640, 427, o);
  EXPECT_EQ(p.resized_width, 224);
  EXPECT_EQ(p.resized_height, 149);
  EXPECT_EQ(p.crop_left, 0);
  EXPECT_EQ(p.crop_top, -37);
  EXPECT_EQ(p.fill, 17);

  o.resize_mode = ResizeMode::kSquash;
  p = ci::plan_preprocess(640, 427, o);
  EXPECT_EQ(p.resized_width, 224);
  EXPECT_EQ(p.resized_height, 224);
  EXPECT_EQ(p.crop_left, 0);
  EXPECT_EQ(p.crop_top, 0);

  // Crop larger than the resize: torchvision pads (224 - 200) // 2 = 12 on top, then crops the
  // 299-wide image at round(75 / 2.0) = 38 (half to even).
  o.resize_mode = ResizeMode::kShortest;
  o.size = 200;
  p = ci::plan_preprocess(640, 427, o);
  EXPECT_EQ(p.resized_width, 299);
  EXPECT_EQ(p.resized_height, 200);
  EXPECT_EQ(p.crop_left, 38);
  EXPECT_EQ(p.crop_top, -12);
  EXPECT_EQ(p.fill, 0);
  // transformers truncates the offset (37); its PIL backend pads at ceil offsets, so an odd
  // padding of 25 rows puts the image 13 rows down there and 12 rows down with torchvision.
  o.profile = clipkit::io::PreprocessProfile::kHF;
  p = ci::plan_preprocess(640, 427, o);
  EXPECT_EQ(p.crop_left, 37);
  EXPECT_EQ(p.crop_top, -12);
  o.size = 199;
  p = ci::plan_preprocess(427, 640, o);  // 199 x 298
  EXPECT_EQ(p.crop_left, -12);
  EXPECT_EQ(p.crop_top, 37);
  o.hf_backend = ci::HFBackend::kPil;
  p = ci::plan_preprocess(427, 640, o);
  EXPECT_EQ(p.crop_left, -13);
  EXPECT_EQ(p.crop_top, 37);
  o.resize_mode = ResizeMode::kLongest;
  EXPECT_THROW(ci::plan_preprocess(640, 427, o), clipkit::Error);  // not a transformers mode
}

TEST(PreprocessGeometry, PaddedPixelsAreTheFillInTheImagesOwnMode) {
  // A 4x2 RGB image, longest side to 8, square 8: rows 0-1 and 6-7 are padding.
  ci::Image img;
  img.mode = ci::Mode::kRGB;
  img.width = 4;
  img.height = 2;
  img.pixels.assign(4 * 2 * 3, 200);
  ci::PreprocessOptions o;
  o.resize_mode = clipkit::io::ResizeMode::kLongest;
  o.size = o.crop_size = 8;
  o.fill_color = 9;
  const ci::Preprocessed r = ci::preprocess(img, o);
  EXPECT_EQ(r.plan.resized_width, 8);
  EXPECT_EQ(r.plan.resized_height, 4);
  EXPECT_EQ(r.plan.crop_top, -2);
  for (int x = 0; x < 8; ++x) {
    EXPECT_EQ(r.crop.row(0)[3 * x], 9);
    EXPECT_EQ(r.crop.row(7)[3 * x + 2], 9);
    EXPECT_EQ(r.crop.row(3)[3 * x + 1], 200);
  }
  // CMYK pads with (f, f, f, f) before convert("RGB"): 0 is no ink, so white.
  img.mode = ci::Mode::kCMYK;
  img.pixels.assign(4 * 2 * 4, 0);
  o.fill_color = 0;
  const ci::Preprocessed c = ci::preprocess(img, o);
  EXPECT_EQ(c.crop.row(0)[0], 255);
}

TEST(PreprocessGeometry, ExifTransposeIsOptional) {
  ci::PreprocessOptions o;
  const std::string path = kData + "/images/exif_orientation6.jpg";
  EXPECT_EQ(ci::preprocess_file(path, o).plan.resized_width, 336);  // stored 320x213 grid
  o.exif_transpose = true;
  const ci::Preprocessed r = ci::preprocess_file(path, o);
  EXPECT_EQ(r.plan.resized_width, 224);  // displayed 213x320
  EXPECT_EQ(r.plan.resized_height, 336);
}

TEST(PreprocessGeometry, RejectsEmptyImagesAndBadSizes) {
  ci::Image img;
  ci::PreprocessOptions o;
  EXPECT_THROW(ci::preprocess(img, o), clipkit::Error);
  img.mode = ci::Mode::kRGB;
  img.width = 10000;
  img.height = 1;
  img.pixels.assign(30000, 1);
  // The longer side would be 224 * 10000 = 2240000 pixels: too large.
  EXPECT_THROW(ci::preprocess(img, o), clipkit::Error);
  o.resize_mode = clipkit::io::ResizeMode::kLongest;  // 224 x round(0.0224) = 0 rows
  EXPECT_THROW(ci::preprocess(img, o), clipkit::Error);
  o.size = 0;
  EXPECT_THROW(ci::plan_preprocess(10, 10, o), clipkit::Error);
  EXPECT_THROW(ci::preprocess_file(kData + "/images/does_not_exist.png", ci::PreprocessOptions{}),
               clipkit::Error);
}

// Batch loading: the rows equal the single-image results (and so the fixture), in input order;
// bad files are named, and either fail the batch or are skipped.
TEST(PreprocessBatch, LoadsFixtureImagesInParallelAndReportsBadFiles) {
  auto ref = clipkit::io::SafetensorsFile::open(kData + "/preprocess/pixels.safetensors");
  std::vector<std::string> paths, keys;
  for (const auto& key : ref.names()) {
    std::string file;
    int size;
    split_key(key, &file, &size);
    if (size != 224) continue;
    paths.push_back(kData + "/images/" + file);
    keys.push_back(key);
  }
  ASSERT_EQ(paths.size(), 12u);
  ci::BatchOptions bo;
  bo.keep_uint8 = true;
  const ci::Batch b = ci::load_batch(paths, bo);
  ASSERT_EQ(b.pixels.dim(0), 12);
  EXPECT_TRUE(b.failures.empty());
  for (size_t i = 0; i < paths.size(); ++i) {
    const Tensor& want = ref.get(keys[i]);
    EXPECT_EQ(std::memcmp(b.pixels.data<float>() + i * 3 * 224 * 224, want.data<float>(),
                          want.nbytes()),
              0)
        << keys[i];
    const ci::Preprocessed one = ci::preprocess_file(paths[i], bo.preprocess);
    EXPECT_EQ(std::memcmp(b.uint8.data<uint8_t>() + i * 3 * 224 * 224, one.crop.pixels.data(),
                          one.crop.pixels.size()),
              0)
        << keys[i];
  }

  // A missing file and a file that is not an image, among good ones.
  const std::string junk = testing::TempDir() + "/imgprep_not_an_image.jpg";
  {
    std::ofstream f(junk, std::ios::binary);
    f << "this is not a JPEG";
  }
  const std::string missing = kData + "/images/no_such_image.png";
  std::vector<std::string> mixed = {paths[0], missing, paths[1], junk, paths[2]};
  try {
    ci::load_batch(mixed, ci::BatchOptions{});
    FAIL() << "bad files accepted";
  } catch (const clipkit::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("2 of 5"), std::string::npos) << m;
    EXPECT_NE(m.find("no_such_image.png"), std::string::npos) << m;
    EXPECT_NE(m.find("imgprep_not_an_image.jpg"), std::string::npos) << m;
  }
  ci::BatchOptions skip;
  skip.skip_bad = true;
  std::vector<std::string> skipped;
  skip.on_skip = [&](const ci::BatchFailure& f) { skipped.push_back(f.path); };
  const ci::Batch s = ci::load_batch(mixed, skip);
  ASSERT_EQ(s.pixels.dim(0), 3);
  EXPECT_EQ(s.indices, (std::vector<size_t>{0, 2, 4}));
  EXPECT_EQ(skipped, (std::vector<std::string>{missing, junk}));
  for (int r = 0; r < 3; ++r)
    EXPECT_EQ(std::memcmp(s.pixels.data<float>() + size_t(r) * 3 * 224 * 224,
                          b.pixels.data<float>() + size_t(r) * 3 * 224 * 224,
                          sizeof(float) * 3 * 224 * 224),
              0)
        << r;
  EXPECT_EQ(ci::load_batch({}, ci::BatchOptions{}).pixels.dim(0), 0);
}
