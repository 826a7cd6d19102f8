// Bad input: truncated and lying files, wrong tensors, hostile or malformed pickles and zips.
// Every case must end in a clipkit::Error naming what is wrong, never a crash; the randomized
// cases are bounded so that they run in CI (and under ASan/UBSan with -DCLIPKIT_SANITIZE=ON).
#include <gtest/gtest.h>

#include "testing.h"
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "core/mapped_file.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "io/torch_zip.h"
#include "io/unpickle.h"
#include "io/zip.h"

using namespace clipkit;
using namespace clipkit::io;
using namespace std::string_literals;  // "..."s keeps the NUL bytes of pickle programs
namespace fs = std::filesystem;

using clipkit::test_util::error_of;

namespace {

const std::string kData = CLIPKIT_TEST_DATA;

void write_bytes(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(s.data(), std::streamsize(s.size()));
}

fs::path tmpdir(const std::string& name) {
  const fs::path p = fs::path(::testing::TempDir()) / ("io_bad_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// A safetensors image from a header JSON and a data area.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string s(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) s[i] = char((n >> (8 * i)) & 0xff);
  return s + header + data;
}

SafetensorsFile parse_st(const std::string& bytes) {
  auto keep = std::make_shared<std::string>(bytes);
  return SafetensorsFile::parse(keep, reinterpret_cast<const unsigned char*>(keep->data()), keep->size(), "t.safetensors");
}

// The tiny_vit fixture folder with its tensors edited, written to a temporary folder.
fs::path edited_vit(const std::string& name,
                    const std::function<void(std::vector<std::pair<std::string, Tensor>>&)>& edit) {
  const fs::path dir = tmpdir(name);
  SafetensorsFile f = SafetensorsFile::open(kData + "/models/tiny_vit/open_clip_model.safetensors");
  std::vector<std::pair<std::string, Tensor>> t;
  for (const auto& n : f.names()) t.emplace_back(n, f.get(n));
  edit(t);
  write_safetensors((dir / "open_clip_model.safetensors").string(), t);
  fs::copy_file(kData + "/models/tiny_vit/open_clip_config.json", dir / "open_clip_config.json");
  return dir;
}

// A pickle run with no storages available.
std::unique_ptr<pickle::Unpickled> run_pickle(const std::string& bytes) {
  return pickle::unpickle(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "p",
                          [](const std::string& key, DType, int64_t) -> pickle::Storage {
                            fail("no storage '", key, "'");
                          });
}

}  // namespace

TEST(BadSafetensors, LyingHeaders) {
  const std::string ok = R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  EXPECT_NO_THROW(parse_st(safetensors_bytes(ok, std::string(8, '\0'))));
  EXPECT_ERROR(parse_st("abc"), "shorter than the 8-byte header length");
  EXPECT_ERROR(parse_st(safetensors_bytes(ok, std::string(4, '\0'))), "outside the data area");
  std::string big = safetensors_bytes(ok, "");
  big[0] = char(0xff);
  EXPECT_ERROR(parse_st(big), "runs past the end of the file");
  EXPECT_ERROR(parse_st(safetensors_bytes(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
                                          std::string(8, '\0'))),
               "'a' has 8 bytes but F32 [3] needs 12");
  EXPECT_ERROR(parse_st(safetensors_bytes(R"({"a": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}})",
                                          std::string(8, '\0'))),
               "unknown dtype 'Q4'");
  EXPECT_ERROR(parse_st(safetensors_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                              "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                                          std::string(12, '\0'))),
               "overlap");
  EXPECT_ERROR(parse_st(safetensors_bytes(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})",
                                          std::string(8, '\0'))),
               "negative dimension");
  EXPECT_ERROR(parse_st(safetensors_bytes("{not json", "")), "not valid JSON");
}

TEST(BadCheckpoint, TruncatedWeightsFile) {
  const fs::path dir = tmpdir("truncated");
  const std::string bytes = read_file(kData + "/models/tiny_vit/open_clip_model.safetensors");
  write_bytes(dir / "open_clip_model.safetensors", bytes.substr(0, bytes.size() / 2));
  fs::copy_file(kData + "/models/tiny_vit/open_clip_config.json", dir / "open_clip_config.json");
  EXPECT_ERROR(load_checkpoint(dir.string()), "open_clip_model.safetensors: tensor '");
}

TEST(BadCheckpoint, MissingExtraMisshapedAndWrongDtype) {
  auto missing = edited_vit("missing", [](auto& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [](auto& p) { return p.first == "visual.ln_post.bias"; }), t.end());
  });
  EXPECT_ERROR(load_checkpoint(missing.string()), "missing 1: 'visual.ln_post.bias' [48]");
  auto extra = edited_vit("extra", [](auto& t) { t.emplace_back("visual.extra", Tensor::zeros(DType::F32, {3})); });
  EXPECT_ERROR(load_checkpoint(extra.string()), "unexpected 1: 'visual.extra' [3]");
  auto shape = edited_vit("shape", [](auto& t) {
    for (auto& [n, x] : t)
      if (n == "visual.proj") x = Tensor::zeros(DType::F32, {48, 23});
  });
  EXPECT_ERROR(load_checkpoint(shape.string()),
               "tensor 'visual.proj' has shape [48, 23] but the architecture");
  EXPECT_ERROR(load_checkpoint(shape.string()), "needs [48, 24] for 'vision.projection'");
  auto fused = edited_vit("fused", [](auto& t) {
    for (auto& [n, x] : t)
      if (n == "transformer.resblocks.2.attn.in_proj_weight") x = Tensor::zeros(DType::F32, {95, 32});
  });
  EXPECT_ERROR(load_checkpoint(fused.string()), "needs [96, 32] for 'text.blocks.2.attn.q_proj.weight' and its siblings");
  auto dtype = edited_vit("dtype", [](auto& t) {
    for (auto& [n, x] : t)
      if (n == "ln_final.weight") x = Tensor::zeros(DType::I32, {32});
  });
  EXPECT_ERROR(load_checkpoint(dtype.string()), "'ln_final.weight' has dtype I32");
  // num_batches_tracked counters are accepted and ignored.
  auto counters = edited_vit("counters", [](auto& t) { t.emplace_back("visual.bn1.num_batches_tracked", Tensor::zeros(DType::I64, {})); });
  EXPECT_NO_THROW(load_checkpoint(counters.string()));
  // So are the scalar buffers of OpenAI's TorchScript releases, which build_model() deletes.
  auto scalars = edited_vit("scalars", [](auto& t) {
    for (const char* n : {"input_resolution", "context_length", "vocab_size"})
      t.emplace_back(n, Tensor::zeros(DType::I64, {}));
  });
  EXPECT_NO_THROW(load_checkpoint(scalars.string()));
}

TEST(BadCheckpoint, WrongConfigForWeights) {
  const fs::path dir = tmpdir("wrongcfg");
  fs::copy_file(kData + "/models/tiny_vit/open_clip_model.safetensors", dir / "open_clip_model.safetensors");
  write_bytes(dir / "open_clip_config.json", read_file(kData + "/models/tiny_rn/open_clip_config.json"));
  EXPECT_ERROR(load_checkpoint(dir.string()), "needs [4, 3, 3, 3] for 'vision.stem.conv1.weight'");
  write_bytes(dir / "open_clip_config.json", R"({"model_cfg": {"embed_dim": 24}})");
  EXPECT_ERROR(load_checkpoint(dir.string()), "open_clip_config.json: model_cfg.vision_cfg is missing");
  fs::remove(dir / "open_clip_config.json");
  EXPECT_ERROR(load_checkpoint(dir.string()), "not a model folder");
  const fs::path hf = tmpdir("hf_noweights");
  fs::copy_file(kData + "/hf/hf_tiny_openai/config.json", hf / "config.json");
  EXPECT_ERROR(load_checkpoint(hf.string()), "has config.json but no model.safetensors");
}

TEST(BadPickle, MalformedPrograms) {
  EXPECT_ERROR(run_pickle(""), "truncated");
  EXPECT_ERROR(run_pickle("\x80\x02}"s), "truncated");
  EXPECT_ERROR(run_pickle("\x80\x02."s), "stack underflow");
  EXPECT_ERROR(run_pickle("\x80\x02h\x05."s), "memo key 5 was never stored");
  EXPECT_ERROR(run_pickle("\x80\x02\xff"s), "unsupported pickle opcode 0xff");
  EXPECT_ERROR(run_pickle("\x80\x02X\xff\xff\xff\x7f"s), "runs past the end");
  EXPECT_ERROR(run_pickle("\x80\x02]K\x01K\x02s."s), "SETITEM(S) on a value that is not a dict");
  EXPECT_ERROR(run_pickle("\x80\x02}(K\x01u."s), "SETITEMS with an odd number of items");
  EXPECT_ERROR(run_pickle("\x80\x02(t(u."s), "not a dict");
  // Globals are refused when named, whichever opcode names them.
  EXPECT_ERROR(run_pickle("\x80\x04\x8c\x02os\x8c\x06system\x93."s), "'os.system'");
  EXPECT_ERROR(run_pickle("csubprocess\nPopen\n."s), "'subprocess.Popen'");
  EXPECT_ERROR(run_pickle("cbuiltins\ngetattr\n."s), "'builtins.getattr'");
  EXPECT_ERROR(run_pickle("ctorch\nload\n."s), "'torch.load'");
  // An allowed global still cannot be applied to the wrong things.
  EXPECT_ERROR(run_pickle("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n)R."s), "wrong number of arguments");
  EXPECT_ERROR(run_pickle("\x80\x02(X\x07\x00\x00\x00" "storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ."s),
               "no storage '0'");
  EXPECT_ERROR(run_pickle("\x80\x02\x8c\x02os\x8c\x06system\x86Q."s), "persistent id is not");
  EXPECT_ERROR(run_pickle("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R."s), "OrderedDict argument is not a list");
  EXPECT_ERROR(run_pickle("\x80\x02\x8a\x09" "123456789."s), "does not fit 64 bits");
  EXPECT_EQ(run_pickle("\x80\x02\x8a\x02\xff\x7f."s)->root()->i, 32767);
  EXPECT_EQ(run_pickle("\x80\x02\x8a\x01\xff."s)->root()->i, -1);
  EXPECT_EQ(run_pickle("I01\n."s)->root()->kind, pickle::Kind::kBool);
  EXPECT_EQ(run_pickle("\x80\x02J\xfe\xff\xff\xff."s)->root()->i, -2);
}

TEST(BadPickle, TensorBeyondItsStorage) {
  // _rebuild_tensor_v2(storage('0', FloatStorage, 4 elements), 2, (3,), (1,), False, OrderedDict())
  const std::string prog = "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n"
                           "((X\x07\x00\x00\x00" "storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ"
                           "K\x02K\x03\x85K\x01\x85\x89" "ccollections\nOrderedDict\n)RtR."s;
  std::vector<float> storage = {1, 2, 3, 4};
  auto loader = [&](const std::string&, DType, int64_t) {
    pickle::Storage s;
    s.data = reinterpret_cast<const unsigned char*>(storage.data());
    s.nbytes = 16;
    return s;
  };
  EXPECT_ERROR(pickle::unpickle(reinterpret_cast<const unsigned char*>(prog.data()), prog.size(), "p", loader),
               "runs past its storage '0' of 4 elements");
  std::string fits = prog;
  fits[fits.find("K\x02K\x03") + 1] = '\x01';  // offset 1: elements 1..3 fit
  auto r = pickle::unpickle(reinterpret_cast<const unsigned char*>(fits.data()), fits.size(), "p", loader);
  ASSERT_EQ(r->root()->kind, pickle::Kind::kTensor);
  EXPECT_EQ(r->root()->tensor.shape(), Shape{3});
  EXPECT_EQ(r->root()->tensor.data<float>()[0], 2.0f);
  EXPECT_EQ(r->root()->tensor.raw(), storage.data() + 1);  // a view, not a copy
}

TEST(BadPickle, DeepAndCyclicStructuresAreSafe) {
  // 200k nested lists and a list containing itself: values live in an arena, so neither
  // destruction nor anything else recurses.
  std::string deep = "\x80\x02";
  for (int i = 0; i < 200000; ++i) deep += "]";
  for (int i = 0; i < 199999; ++i) deep += "a";
  deep += ".";
  EXPECT_EQ(run_pickle(deep)->root()->kind, pickle::Kind::kList);
  EXPECT_EQ(run_pickle("\x80\x02]q\x00h\x00" "a."s)->root()->items.size(), 1u);
}

namespace {

// Rewrites a stored zip archive with every entry deflated (raw deflate), as a zip tool would.
std::string deflate_all(const std::string& src_path) {
  ZipArchive z = ZipArchive::open(src_path);
  std::string out, central;
  auto put16 = [](std::string& s, uint32_t v) { s += char(v & 0xff); s += char((v >> 8) & 0xff); };
  auto put32 = [&](std::string& s, uint32_t v) { put16(s, v & 0xffff); put16(s, v >> 16); };
  for (const auto& e : z.entries()) {
    const auto b = z.read(e);
    std::string comp(compressBound(uLong(b.size)) + 64, '\0');
    z_stream zs{};
    deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = const_cast<unsigned char*>(b.data);
    zs.avail_in = uInt(b.size);
    zs.next_out = reinterpret_cast<unsigned char*>(comp.data());
    zs.avail_out = uInt(comp.size());
    deflate(&zs, Z_FINISH);
    comp.resize(zs.total_out);
    deflateEnd(&zs);
    const uint32_t crc = uint32_t(crc32(0, b.data, uInt(b.size)));
    const uint32_t off = uint32_t(out.size());
    put32(out, 0x04034b50); put16(out, 20); put16(out, 0); put16(out, 8); put32(out, 0);
    put32(out, crc); put32(out, uint32_t(comp.size())); put32(out, uint32_t(b.size));
    put16(out, uint32_t(e.name.size())); put16(out, 0);
    out += e.name + comp;
    put32(central, 0x02014b50); put16(central, 20); put16(central, 20); put16(central, 0); put16(central, 8);
    put32(central, 0); put32(central, crc); put32(central, uint32_t(comp.size())); put32(central, uint32_t(b.size));
    put16(central, uint32_t(e.name.size())); put16(central, 0); put16(central, 0); put16(central, 0);
    put16(central, 0); put32(central, 0); put32(central, off);
    central += e.name;
  }
  const uint32_t cd_off = uint32_t(out.size());
  out += central;
  put32(out, 0x06054b50); put16(out, 0); put16(out, 0);
  put16(out, uint32_t(z.entries().size())); put16(out, uint32_t(z.entries().size()));
  put32(out, uint32_t(central.size())); put32(out, cd_off); put16(out, 0);
  return out;
}

}  // namespace

TEST(BadZip, DeflatedArchivesInflateAndCorruptionIsCaught) {
  const std::string bytes = deflate_all(kData + "/torch/tiny_vit_state_dict.pt");
  auto keep = std::make_shared<std::string>(bytes);
  const auto* d = reinterpret_cast<const unsigned char*>(keep->data());
  TorchStateDict sd = parse_torch_checkpoint(keep, d, keep->size(), "deflated.pt");
  TorchStateDict ref = read_torch_checkpoint(kData + "/torch/tiny_vit_state_dict.pt");
  ASSERT_EQ(sd.tensors.size(), ref.tensors.size());
  for (const auto& [n, t] : ref.tensors)
    EXPECT_EQ(std::memcmp(sd.tensors.at(n).raw(), t.raw(), t.nbytes()), 0) << n;
  // A flipped byte inside the compressed data.pkl fails inflation or its CRC.
  std::string bad = bytes;
  bad[60] ^= 0x55;
  auto keep2 = std::make_shared<std::string>(bad);
  EXPECT_ERROR(parse_torch_checkpoint(keep2, reinterpret_cast<const unsigned char*>(keep2->data()), keep2->size(), "bad.pt"),
               "bad.pt");
}

TEST(BadZip, StructuralDamage) {
  const std::string bytes = read_file(kData + "/torch/tiny_vit_state_dict.pt");
  auto parse = [](const std::string& b) {
    auto keep = std::make_shared<std::string>(b);
    return parse_torch_checkpoint(keep, reinterpret_cast<const unsigned char*>(keep->data()), keep->size(), "z.pt");
  };
  EXPECT_ERROR(parse(bytes.substr(0, bytes.size() - 30)), "no end of central directory");
  EXPECT_ERROR(parse(bytes.substr(0, 100000)), "z.pt");
  std::string cd = bytes;
  const size_t eocd = cd.rfind(std::string("PK\x05\x06", 4));
  cd[eocd + 16] = char(0xf0);  // central directory offset beyond the file
  cd[eocd + 19] = char(0x7f);
  EXPECT_ERROR(parse(cd), "central directory");
  EXPECT_ERROR(parse(std::string("\x80\x02}q\x00.", 6)), "legacy (pre-1.6, non-zip) torch.save file");
  EXPECT_ERROR(parse("PK\x03\x04 not really a zip"), "z.pt");
}

// Bounded random damage to real files: each mutant loads or throws clipkit::Error.
TEST(BadInputRandomized, MutatedFilesNeverCrash) {
  std::mt19937 rng(20240611);
  struct Source {
    std::string path;
    bool torch;
  };
  const Source sources[] = {{kData + "/torch/tiny_vit_state_dict.pt", true},
                            {kData + "/torch/tiny_vit_torchscript.pt", true},
                            {kData + "/hf/hf_tiny_sdxl/text_encoder/model.safetensors", false}};
  int errors = 0, loaded = 0;
  for (const Source& s : sources) {
    const std::string orig = read_file(s.path);
    // Damage concentrates where parsing happens: the first 12 KiB (header / data.pkl) and the tail
    // (central directory).
    for (int iter = 0; iter < 150; ++iter) {
      std::string m = orig;
      const int kind = iter % 3;
      if (kind == 0) {
        m.resize(std::uniform_int_distribution<size_t>(0, m.size())(rng));
      } else {
        const int flips = 1 + int(rng() % 8);
        for (int k = 0; k < flips; ++k) {
          const bool tail = kind == 2 && s.torch;
          const size_t region = std::min<size_t>(m.size(), tail ? 8192 : 12288);
          const size_t pos = tail ? m.size() - 1 - rng() % region : rng() % region;
          m[pos] = char(rng());
        }
      }
      auto keep = std::make_shared<std::string>(m);
      const auto* d = reinterpret_cast<const unsigned char*>(keep->data());
      try {
        if (s.torch) parse_torch_checkpoint(keep, d, keep->size(), "m.pt");
        else SafetensorsFile::parse(keep, d, keep->size(), "m.safetensors");
        ++loaded;
      } catch (const Error&) {
        ++errors;
      }
    }
  }
  EXPECT_GT(errors, 100);
  EXPECT_EQ(errors + loaded, 450);
}
