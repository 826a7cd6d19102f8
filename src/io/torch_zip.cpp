// torch.save / TorchScript zip archives: locate data.pkl, serve storages from data/<key>
// entries, run the restricted unpickler and find the state dict in what it returns.
#include "io/torch_zip.h"

#include <cstdio>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "core/mapped_file.h"
#include "io/unpickle.h"
#include "io/zip.h"

namespace clipkit::io {

namespace {

using pickle::Kind;
using pickle::Value;

bool is_tensor_dict(const Value* v) {
  if (!v || v->kind != Kind::kDict || v->dict.empty()) return false;
  for (const auto& [k, x] : v->dict)
    if (k->kind != Kind::kStr || x->kind != Kind::kTensor) return false;
  return true;
}

size_t count_tensors(const Value* v) {
  size_t n = 0;
  if (v && v->kind == Kind::kDict)
    for (const auto& [k, x] : v->dict) n += k->kind == Kind::kStr && x->kind == Kind::kTensor;
  return n;
}

// The dict holding the weights: the top level, a conventional key ("state_dict", "model", ...),
// else the dict with the most tensors anywhere (depth-limited walk).
const Value* find_state_dict(const Value* root, std::string* where) {
  if (is_tensor_dict(root)) return root;
  for (const char* k : {"state_dict", "model_state_dict", "model", "module", "state_dict_ema", "ema"}) {
    const Value* v = root->get(k);
    if (count_tensors(v) > 0) {
      *where = k;
      return v;
    }
  }
  const Value* best = nullptr;
  size_t best_n = 0;
  std::function<void(const Value*, const std::string&, int)> walk = [&](const Value* v, const std::string& path, int depth) {
    if (!v || depth > 8 || v->kind != Kind::kDict) return;
    const size_t n = count_tensors(v);
    if (n > best_n) {
      best = v;
      best_n = n;
      *where = path;
    }
    for (const auto& [k, x] : v->dict)
      if (k->kind == Kind::kStr) walk(x, path.empty() ? k->s : path + "." + k->s, depth + 1);
  };
  walk(root, "", 0);
  return best;
}

// TorchScript: parameters and buffers are the tensor attributes of the module objects, named by
// their path in the module tree.
void collect_module(const Value* obj, const std::string& prefix, int depth,
                    std::map<std::string, Tensor>& out, const std::string& label) {
  CLIPKIT_CHECK(depth <= 64, label, ": TorchScript module tree deeper than 64 levels");
  const Value* st = obj->state;
  if (!st || st->kind != Kind::kDict) return;
  for (const auto& [k, v] : st->dict) {
    if (k->kind != Kind::kStr) continue;
    const std::string name = prefix + k->s;
    if (v->kind == Kind::kTensor) out[name] = v->tensor;
    else if (v->kind == Kind::kObject) collect_module(v, name + ".", depth + 1, out, label);
  }
}

}  // namespace

TorchStateDict parse_torch_checkpoint(std::shared_ptr<const void> owner, const unsigned char* data,
                                      size_t size, const std::string& label) {
  if (size >= 2 && data[0] == 0x80 && data[1] <= 5)
    fail(label, ": a legacy (pre-1.6, non-zip) torch.save file; re-save it with a current PyTorch "
                "or convert it to safetensors");
  const ZipArchive zip = ZipArchive::parse(std::move(owner), data, size, label);
  // Entries are "<archive>/data.pkl", "<archive>/data/<key>", ...; the archive name varies.
  const ZipArchive::Entry* pkl = nullptr;
  for (const auto& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      pkl = &e;
      break;
    }
  }
  CLIPKIT_CHECK(pkl != nullptr, label, ": a zip archive without <name>/data.pkl (not a PyTorch file)");
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // "<archive>/"
  if (const auto* bo = zip.find(prefix + "byteorder")) {
    const auto b = zip.read(*bo, true);
    CLIPKIT_CHECK(std::string(reinterpret_cast<const char*>(b.data), b.size) == "little", label,
                  ": big-endian tensors are not supported");
  }
  const auto pk = zip.read(*pkl, true);
  const pickle::StorageLoader loader = [&](const std::string& key, DType dt, int64_t numel) {
    const ZipArchive::Entry* e = zip.find(prefix + "data/" + key);
    CLIPKIT_CHECK(e != nullptr, label, ": storage '", key, "' has no entry ", prefix, "data/", key);
    const auto b = zip.read(*e);
    pickle::Storage s;
    s.data = b.data;
    s.nbytes = b.size;
    s.owner = b.owner;
    return s;
  };
  auto result = pickle::unpickle(pk.data, pk.size, label + ": " + pkl->name, loader);
  const Value* root = result->root();
  TorchStateDict sd;
  if (root->kind == Kind::kObject) {
    sd.torchscript = true;
    collect_module(root, "", 0, sd.tensors, label);
  } else {
    const Value* d = root->kind == Kind::kDict ? find_state_dict(root, &sd.found_at) : nullptr;
    CLIPKIT_CHECK(d != nullptr, label, ": the pickle holds no dict of tensors");
    for (const auto& [k, v] : d->dict) {
      if (k->kind != Kind::kStr || v->kind != Kind::kTensor) continue;
      CLIPKIT_CHECK(sd.tensors.emplace(k->s, v->tensor).second, label, ": tensor '", k->s,
                    "' appears twice");
    }
  }
  CLIPKIT_CHECK(!sd.tensors.empty(), label, ": no tensors found");
  // Kernels expect the row-major layout torch state dicts almost always have; other strides
  // (a tensor saved as a transposed view) are made contiguous here, once.
  for (auto& [n, t] : sd.tensors) {
    if (!t.is_contiguous()) t = t.contiguous();
    t.set_name(n);
  }
  return sd;
}

TorchStateDict read_torch_checkpoint(const std::string& path) {
  auto m = MappedFile::open(path);
  const unsigned char* d = m->data();
  const size_t n = m->size();
  return parse_torch_checkpoint(std::shared_ptr<const void>(m, d), d, n, path);
}

bool looks_like_zip(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char b[4] = {0, 0, 0, 0};
  const size_t n = std::fread(b, 1, 4, f);
  std::fclose(f);
  return n == 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4;
}

}  // namespace clipkit::io
