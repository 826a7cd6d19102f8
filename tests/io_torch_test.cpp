// PyTorch files: torch.save zip archives, nested training checkpoints, TorchScript archives and
// hostile pickles (tests/data/torch, written by torch 1.13.1).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "io/torch_zip.h"

using namespace clipkit;
using namespace clipkit::io;
namespace fs = std::filesystem;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

// Every tensor of `sd` equals the same-named tensor of the safetensors fixture, bit for bit.
void expect_same_tensors(const std::map<std::string, Tensor>& sd, const std::string& st_path) {
  SafetensorsFile f = SafetensorsFile::open(st_path);
  ASSERT_EQ(sd.size(), f.names().size());
  for (const std::string& n : f.names()) {
    auto it = sd.find(n);
    ASSERT_NE(it, sd.end()) << n;
    const Tensor& a = it->second;
    const Tensor& b = f.get(n);
    EXPECT_EQ(a.dtype(), b.dtype()) << n;
    ASSERT_EQ(a.shape(), b.shape()) << n;
    ASSERT_TRUE(a.is_contiguous()) << n;
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), b.nbytes()), 0) << n;
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(TorchZip, StateDictArchive) {
  TorchStateDict sd = read_torch_checkpoint(kData + "/torch/tiny_vit_state_dict.pt");
  EXPECT_FALSE(sd.torchscript);
  EXPECT_EQ(sd.found_at, "");
  expect_same_tensors(sd.tensors, kData + "/models/tiny_vit/open_clip_model.safetensors");
  // torch aligns storages to 64 bytes, so every tensor is a view into the mapped file.
  for (const auto& [n, t] : sd.tensors)
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u) << n;
}

TEST(TorchZip, NestedTrainingCheckpoint) {
  TorchStateDict sd = read_torch_checkpoint(kData + "/torch/tiny_vit_nested_fp16.ckpt");
  EXPECT_EQ(sd.found_at, "state_dict");
  std::map<std::string, Tensor> stripped;
  for (const auto& [n, t] : sd.tensors) {
    ASSERT_EQ(n.rfind("model.", 0), 0u) << n;
    stripped[n.substr(6)] = t;
  }
  expect_same_tensors(stripped, kData + "/models/tiny_vit_fp16/open_clip_model.safetensors");
}

TEST(TorchZip, TorchScriptArchive) {
  TorchStateDict sd = read_torch_checkpoint(kData + "/torch/tiny_vit_torchscript.pt");
  EXPECT_TRUE(sd.torchscript);
  expect_same_tensors(sd.tensors, kData + "/models/tiny_vit/open_clip_model.safetensors");
}

TEST(TorchZip, HostilePicklesAreRefusedByName) {
  const std::string marker = "/tmp/clipkit_pwned";
  std::remove(marker.c_str());
  const std::string e1 = error_of([&] { read_torch_checkpoint(kData + "/torch/hostile_os_system.pt"); });
  EXPECT_NE(e1.find("'posix.system' (os.system)"), std::string::npos) << e1;
  const std::string e2 = error_of([&] { read_torch_checkpoint(kData + "/torch/hostile_builtins_eval.pt"); });
  EXPECT_NE(e2.find("'builtins.eval'"), std::string::npos) << e2;
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_NE(error_of([&] { load_checkpoint(kData + "/torch/hostile_builtins_eval.pt"); }).find("builtins.eval"),
            std::string::npos);
}

TEST(TorchZip, LoadCheckpointFromTorchFiles) {
  // The fixture's head counts cannot be derived from the weights: without a config it is an Error.
  const std::string e = error_of([&] { load_checkpoint(kData + "/torch/tiny_vit_state_dict.pt"); });
  EXPECT_NE(e.find("cannot be derived"), std::string::npos) << e;
  // Next to its open_clip_config.json, each torch form loads onto the same canonical tensors.
  const fs::path dir = fs::path(::testing::TempDir()) / "io_torch_with_config";
  fs::create_directories(dir);
  fs::copy_file(kData + "/models/tiny_vit/open_clip_config.json", dir / "open_clip_config.json",
                fs::copy_options::overwrite_existing);
  Checkpoint ref = load_checkpoint(kData + "/models/tiny_vit");
  for (const char* f : {"tiny_vit_state_dict.pt", "tiny_vit_torchscript.pt", "tiny_vit_nested_fp16.ckpt"}) {
    fs::copy_file(kData + "/torch/" + f, dir / f, fs::copy_options::overwrite_existing);
    Checkpoint ck = load_checkpoint((dir / f).string());
    EXPECT_EQ(ck.layout, Layout::kOpenAI) << f;
    EXPECT_EQ(ck.config.vision->heads, 3) << f;
    EXPECT_EQ(ck.parameter_count(), ref.parameter_count()) << f;
    EXPECT_EQ(ck.params.size(), ref.params.size()) << f;
    const bool fp16 = std::string(f).find("fp16") != std::string::npos;
    for (const auto& [n, t] : ref.params) {
      const Tensor& u = ck.param(n);
      ASSERT_EQ(u.shape(), t.shape()) << n;
      EXPECT_EQ(u.strides(), t.strides()) << n;
      EXPECT_EQ(u.dtype(), fp16 ? DType::F16 : DType::F32) << n;
      if (!fp16) {
        const Tensor a = u.contiguous(), b = t.contiguous();
        EXPECT_EQ(std::memcmp(a.raw(), b.raw(), b.nbytes()), 0) << f << " " << n;
      }
    }
  }
  // A preset also works for a bare file (ViT-B-32 does not fit the tiny model: a shape error).
  const std::string e2 = error_of([&] {
    LoadOptions o;
    o.arch = "ViT-B-32";
    load_checkpoint(kData + "/torch/tiny_vit_state_dict.pt", o);
  });
  EXPECT_NE(e2.find("needs [49408, 512]"), std::string::npos) << e2;
}
