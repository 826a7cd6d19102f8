// A restricted pickle reader for PyTorch checkpoints. It implements the opcodes of protocols 0-5
// that torch.save and TorchScript emit and builds plain values (None, bool, int, float, str,
// bytes, tuple, list, dict), tensors (torch._utils._rebuild_tensor_v2 over storages handed out by
// a persistent-id loader) and inert objects for TorchScript's __torch__.* module classes. No
// Python callable is ever invoked: GLOBAL may only name an allow-listed constructor, each
// implemented here in C++; anything else (os.system, builtins.eval, ...) is an Error naming the
// global. Values live in an arena owned by the result, so cyclic or deeply nested pickles cannot
// leak or overflow the stack.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace clipkit::io::pickle {

enum class Kind {
  kNone, kBool, kInt, kFloat, kStr, kBytes, kTuple, kList, kDict,
  kGlobal,   // an allow-listed class or function, not yet applied
  kStorage,  // a storage from the persistent-id loader
  kTensor,
  kObject,   // an instance of a __torch__.* class (TorchScript module) with its state
};

struct Value {
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                                // str, bytes; the global's "module.name"
  std::vector<Value*> items;                    // tuple, list
  std::vector<std::pair<Value*, Value*>> dict;  // dict entries in insertion order
  Value* state = nullptr;                       // object: the BUILD state
  Tensor tensor;                                // tensor
  // storage
  DType dtype = DType::F32;
  const unsigned char* data = nullptr;
  size_t nbytes = 0;
  std::shared_ptr<const void> owner;
  std::string key;

  // Dict lookup by string key (null when absent or not a dict).
  const Value* get(const std::string& k) const;
};

// What the persistent-id loader returns for ('storage', <type>, key, location, numel).
struct Storage {
  const unsigned char* data = nullptr;
  size_t nbytes = 0;
  std::shared_ptr<const void> owner;
};
// Called with the storage key, its dtype and element count; must throw when unavailable.
using StorageLoader = std::function<Storage(const std::string& key, DType dtype, int64_t numel)>;

class Unpickled {
 public:
  const Value* root() const { return root_; }

 private:
  friend class Machine;
  std::vector<std::unique_ptr<Value>> arena_;
  Value* root_ = nullptr;
};

// Runs the pickle in [data, data + size). `label` names it in errors ("x.pt: data.pkl").
// Tensors over a storage are views when their first element is aligned for the dtype, else
// copies; a view may be strided as saved.
std::unique_ptr<Unpickled> unpickle(const unsigned char* data, size_t size, const std::string& label,
                                    const StorageLoader& load_storage);

// The storage dtype of a torch storage class name ("FloatStorage" -> F32); false when unknown.
bool storage_dtype(const std::string& class_name, DType* out);

}  // namespace clipkit::io::pickle
