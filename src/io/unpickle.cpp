#include "io/unpickle.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <unordered_map>

#include "core/error.h"

namespace clipkit::io::pickle {

const Value* Value::get(const std::string& k) const {
  if (kind != Kind::kDict) return nullptr;
  for (const auto& [key, v] : dict)
    if (key->kind == Kind::kStr && key->s == k) return v;
  return nullptr;
}

bool storage_dtype(const std::string& n, DType* out) {
  static const std::pair<const char*, DType> kTypes[] = {
      {"FloatStorage", DType::F32},  {"HalfStorage", DType::F16},  {"BFloat16Storage", DType::BF16},
      {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64},  {"IntStorage", DType::I32},
      {"ShortStorage", DType::I16},  {"CharStorage", DType::I8},   {"ByteStorage", DType::U8},
      {"BoolStorage", DType::BOOL}};
  for (const auto& [name, dt] : kTypes)
    if (n == name) {
      *out = dt;
      return true;
    }
  return false;
}

namespace {

// The globals a pickle may name. Each is implemented by Machine::apply; nothing is looked up.
bool allowed_global(const std::string& g) {
  static const char* const kAllowed[] = {
      "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
      "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
      "collections.OrderedDict", "torch.Size", "_codecs.encode",
      "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_doublelist",
      "torch.jit._pickle.build_boollist", "torch.jit._pickle.build_tensorlist",
      "torch.jit._pickle.build_stringlist", "torch.jit._pickle.restore_type_tag"};
  for (const char* a : kAllowed)
    if (g == a) return true;
  DType dt;
  if (g.rfind("torch.", 0) == 0 && g.find('.', 6) == std::string::npos && storage_dtype(g.substr(6), &dt))
    return true;
  // TorchScript module classes: inert records (created empty, filled by BUILD).
  return g.rfind("__torch__.", 0) == 0;
}

}  // namespace

class Machine {
 public:
  Machine(const unsigned char* d, size_t n, const std::string& label, const StorageLoader& loader)
      : p_(d), end_(d + n), begin_(d), label_(label), loader_(loader), out_(new Unpickled) {}

  std::unique_ptr<Unpickled> run();

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(label_, ": pickle offset ", op_pos_, ": ", what);
  }
  Value* make(Kind k) {
    out_->arena_.push_back(std::make_unique<Value>());
    Value* v = out_->arena_.back().get();
    v->kind = k;
    return v;
  }
  const unsigned char* take(size_t n) {
    if (size_t(end_ - p_) < n) error("truncated (needs " + std::to_string(n) + " more bytes)");
    const unsigned char* r = p_;
    p_ += n;
    return r;
  }
  uint64_t le(size_t n) {
    const unsigned char* b = take(n);
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | b[i];
    return v;
  }
  std::string line() {
    const unsigned char* nl = static_cast<const unsigned char*>(std::memchr(p_, '\n', size_t(end_ - p_)));
    if (!nl) error("unterminated text argument");
    std::string s(reinterpret_cast<const char*>(p_), size_t(nl - p_));
    p_ = nl + 1;
    return s;
  }
  std::string bytes(uint64_t n) {
    if (n > uint64_t(end_ - p_)) error("string of " + std::to_string(n) + " bytes runs past the end");
    return std::string(reinterpret_cast<const char*>(take(size_t(n))), size_t(n));
  }
  Value* pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) error("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) error("stack underflow");
    return stack_.back();
  }
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) error("no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + ptrdiff_t(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void push(Value* v) {
    if (stack_.size() >= kMaxStack) error("stack deeper than " + std::to_string(kMaxStack));
    stack_.push_back(v);
  }
  Value* integer(int64_t x) {
    Value* v = make(Kind::kInt);
    v->i = x;
    return v;
  }
  Value* str(Kind k, std::string s) {
    Value* v = make(k);
    v->s = std::move(s);
    return v;
  }
  Value* tuple(std::vector<Value*> items) {
    Value* v = make(Kind::kTuple);
    v->items = std::move(items);
    return v;
  }
  void memo_put(uint64_t key) { memo_[key] = top(); }
  Value* memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) error("memo key " + std::to_string(key) + " was never stored");
    return it->second;
  }
  void set_items(Value* d, const std::vector<Value*>& kv) {
    if (d->kind != Kind::kDict) error("SETITEM(S) on a value that is not a dict");
    if (kv.size() % 2) error("SETITEMS with an odd number of items");
    for (size_t i = 0; i < kv.size(); i += 2) d->dict.emplace_back(kv[i], kv[i + 1]);
  }
  void append(Value* l, const std::vector<Value*>& items) {
    if (l->kind != Kind::kList) error("APPEND(S) on a value that is not a list");
    l->items.insert(l->items.end(), items.begin(), items.end());
  }
  Value* global(std::string module, const std::string& name) {
    // Protocol 2 pickles spell Python 3 modules the Python 2 way; Python's fix_imports maps them
    // back, and so do we, so that messages and the allow-list see the Python 3 name.
    if (module == "__builtin__") module = "builtins";
    else if (module == "copy_reg") module = "copyreg";
    const std::string g = module + "." + name;
    if (!allowed_global(g)) {
      // os.system pickles as posix.system (nt.system on Windows); say which it is.
      const std::string alias = module == "posix" || module == "nt" ? " (os." + name + ")" : "";
      fail(label_, ": refusing to load: the pickle asks for the Python global '", g, "'", alias,
           ", which a weights file never needs (only tensors and plain containers are read)");
    }
    return str(Kind::kGlobal, g);
  }
  Value* apply(Value* callable, Value* args);
  Value* rebuild_tensor(const Value* args, bool v2);
  Value* storage(const Value* pid);
  int64_t as_int(const Value* v, const char* what) const {
    if (!v || (v->kind != Kind::kInt && v->kind != Kind::kBool)) error(std::string(what) + " is not an integer");
    return v->kind == Kind::kBool ? int64_t(v->b) : v->i;
  }
  Value* long_bytes(size_t n);

  static constexpr size_t kMaxStack = 1 << 20;
  const unsigned char* p_;
  const unsigned char* end_;
  const unsigned char* begin_;
  size_t op_pos_ = 0;
  std::string label_;
  const StorageLoader& loader_;
  std::unique_ptr<Unpickled> out_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
  std::map<std::string, Value*> storages_;
};

Value* Machine::long_bytes(size_t n) {
  if (n > 8) error("integer of " + std::to_string(n) + " bytes does not fit 64 bits");
  const unsigned char* b = take(n);
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | b[i];
  if (n > 0 && n < 8 && (b[n - 1] & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
  return integer(int64_t(v));
}

Value* Machine::storage(const Value* pid) {
  // torch.save / TorchScript: ('storage', <torch.XStorage>, key, location, numel)
  if (pid->kind != Kind::kTuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::kStr ||
      pid->items[0]->s != "storage")
    error("persistent id is not ('storage', type, key, location, numel)");
  const Value* type = pid->items[1];
  DType dt;
  if (type->kind != Kind::kGlobal || type->s.rfind("torch.", 0) != 0 || !storage_dtype(type->s.substr(6), &dt))
    error("persistent id names no known storage type");
  if (pid->items[2]->kind != Kind::kStr) error("storage key is not a string");
  const std::string& key = pid->items[2]->s;
  const int64_t numel = as_int(pid->items[4], "storage size");
  if (numel < 0) error("negative storage size");
  auto it = storages_.find(key);
  if (it != storages_.end()) {
    if (it->second->dtype != dt) error("storage '" + key + "' used with two dtypes");
    return it->second;
  }
  Storage s = loader_(key, dt, numel);
  if (s.nbytes / dtype_size(dt) < uint64_t(numel))
    error("storage '" + key + "' has " + std::to_string(s.nbytes) + " bytes, fewer than " +
          std::to_string(numel) + " elements of " + std::string(dtype_name(dt)));
  Value* v = make(Kind::kStorage);
  v->dtype = dt;
  v->data = s.data;
  v->nbytes = size_t(numel) * dtype_size(dt);
  v->owner = std::move(s.owner);
  v->key = key;
  storages_[key] = v;
  return v;
}

Value* Machine::rebuild_tensor(const Value* args, bool v2) {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args->kind != Kind::kTuple || args->items.size() < (v2 ? 6u : 4u))
    error("tensor rebuild with the wrong number of arguments");
  const Value* st = args->items[0];
  if (st->kind != Kind::kStorage) error("tensor rebuild without a storage");
  const int64_t offset = as_int(args->items[1], "storage offset");
  const Value* size = args->items[2];
  const Value* stride = args->items[3];
  if (size->kind != Kind::kTuple || stride->kind != Kind::kTuple || size->items.size() != stride->items.size() ||
      size->items.size() > 16)
    error("tensor size and stride are not matching tuples of at most 16 dimensions");
  const size_t esize = dtype_size(st->dtype);
  const uint64_t capacity = st->nbytes / esize;
  Shape shape, strides;
  bool empty = false;
  uint64_t last = 0;  // index of the last element addressed
  for (size_t i = 0; i < size->items.size(); ++i) {
    const int64_t d = as_int(size->items[i], "tensor dimension");
    const int64_t s = as_int(stride->items[i], "tensor stride");
    if (d < 0 || s < 0 || d > (int64_t(1) << 40) || s > (int64_t(1) << 40))
      error("tensor dimension or stride out of range");
    if (d == 0) empty = true;
    else last += uint64_t(d - 1) * uint64_t(s);
    shape.push_back(d);
    strides.push_back(s);
  }
  if (offset < 0 || uint64_t(offset) > capacity) error("storage offset out of range");
  if (!empty && last >= capacity - uint64_t(offset))
    error("tensor of shape " + shape_str(shape) + " runs past its storage '" + st->key + "' of " +
          std::to_string(capacity) + " elements");
  Value* v = make(Kind::kTensor);
  const unsigned char* ptr = st->data + size_t(offset) * esize;
  if (reinterpret_cast<uintptr_t>(ptr) % esize == 0 || empty) {
    v->tensor = Tensor::view(st->owner, ptr, st->dtype, shape, strides);
  } else {
    // Unaligned storage (never written by torch, which aligns entries to 64 bytes): copy.
    Tensor t = Tensor::empty(st->dtype, shape);
    const int64_t n = t.numel();
    char* dst = static_cast<char*>(t.raw());
    std::vector<int64_t> idx(shape.size(), 0);
    for (int64_t k = 0; k < n; ++k) {
      int64_t src = 0;
      for (size_t i = 0; i < shape.size(); ++i) src += idx[i] * strides[i];
      std::memcpy(dst + k * int64_t(esize), ptr + src * int64_t(esize), esize);
      for (size_t i = shape.size(); i-- > 0;) {
        if (++idx[i] < shape[i]) break;
        idx[i] = 0;
      }
    }
    v->tensor = t;
  }
  return v;
}

Value* Machine::apply(Value* callable, Value* args) {
  if (callable->kind != Kind::kGlobal) error("REDUCE on a value that is not an allowed global");
  if (args->kind != Kind::kTuple) error("REDUCE arguments are not a tuple");
  const std::string& g = callable->s;
  const auto& a = args->items;
  if (g == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args, true);
  if (g == "torch._utils._rebuild_tensor") return rebuild_tensor(args, false);
  if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
    if (a.empty() || a[0]->kind != Kind::kTensor) error(g + " without a tensor");
    return a[0];
  }
  if (g == "collections.OrderedDict") {
    Value* d = make(Kind::kDict);
    if (!a.empty()) {
      if (a[0]->kind != Kind::kList && a[0]->kind != Kind::kTuple) error("OrderedDict argument is not a list");
      for (Value* kv : a[0]->items) {
        if ((kv->kind != Kind::kTuple && kv->kind != Kind::kList) || kv->items.size() != 2)
          error("OrderedDict item is not a pair");
        d->dict.emplace_back(kv->items[0], kv->items[1]);
      }
    }
    return d;
  }
  if (g == "torch.Size") {
    if (a.size() != 1 || (a[0]->kind != Kind::kTuple && a[0]->kind != Kind::kList)) error("torch.Size argument");
    return tuple(a[0]->items);
  }
  if (g == "_codecs.encode") {
    // Protocol 2 writes bytes as _codecs.encode(text, 'latin1'); the text's code points < 256.
    if (a.size() != 2 || a[0]->kind != Kind::kStr || a[1]->kind != Kind::kStr ||
        (a[1]->s != "latin1" && a[1]->s != "latin-1"))
      error("_codecs.encode other than (str, 'latin1')");
    std::string out;
    const std::string& s = a[0]->s;
    for (size_t i = 0; i < s.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) out.push_back(char(c));
      else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) out.push_back(char(((c & 3) << 6) | (s[++i] & 0x3F)));
      else error("_codecs.encode of a character outside latin-1");
    }
    return str(Kind::kBytes, std::move(out));
  }
  if (g.rfind("torch.jit._pickle.", 0) == 0) {
    if (a.empty()) error(g + " without arguments");
    return a[0];
  }
  if (g.rfind("__torch__.", 0) == 0) {
    Value* o = make(Kind::kObject);
    o->s = g;
    return o;
  }
  error("the global '" + g + "' cannot be called");
}

// One case per opcode: the function is long because the pickle instruction set is, and keeping
// the dispatch in one switch makes the accepted subset auditable in one place.
std::unique_ptr<Unpickled> Machine::run() {
  while (true) {
    op_pos_ = size_t(p_ - begin_);
    const unsigned char op = *take(1);
    switch (op) {
      case 0x80: take(1); break;  // PROTO
      case 0x95: take(8); break;  // FRAME: a length hint only
      case '.': {                 // STOP
        out_->root_ = pop();
        return std::move(out_);
      }
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '0': pop(); break;                            // POP
      case '1': pop_mark(); break;                       // POP_MARK
      case '2': push(top()); break;                      // DUP
      case 'N': push(make(Kind::kNone)); break;
      case 0x88:
      case 0x89: {
        Value* v = make(Kind::kBool);
        v->b = op == 0x88;
        push(v);
        break;
      }
      case 'J': push(integer(int32_t(uint32_t(le(4))))); break;  // BININT
      case 'K': push(integer(int64_t(le(1)))); break;             // BININT1
      case 'M': push(integer(int64_t(le(2)))); break;             // BININT2
      case 0x8a: push(long_bytes(size_t(le(1)))); break;          // LONG1
      case 0x8b: push(long_bytes(size_t(le(4)))); break;          // LONG4
      case 'I':
      case 'L': {  // INT / LONG (text)
        std::string s = line();
        if (op == 'L' && !s.empty() && s.back() == 'L') s.pop_back();
        if (op == 'I' && (s == "00" || s == "01")) {
          Value* v = make(Kind::kBool);
          v->b = s == "01";
          push(v);
          break;
        }
        char* e = nullptr;
        errno = 0;
        const long long x = std::strtoll(s.c_str(), &e, 10);
        if (s.empty() || *e || errno) error("bad integer '" + s + "'");
        push(integer(x));
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        const unsigned char* b = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | b[i];
        Value* v = make(Kind::kFloat);
        std::memcpy(&v->f, &bits, 8);
        push(v);
        break;
      }
      case 'F': {
        const std::string s = line();
        char* e = nullptr;
        const double x = std::strtod(s.c_str(), &e);
        if (s.empty() || *e) error("bad float '" + s + "'");
        Value* v = make(Kind::kFloat);
        v->f = x;
        push(v);
        break;
      }
      case 'X': push(str(Kind::kStr, bytes(le(4)))); break;     // BINUNICODE
      case 0x8c: push(str(Kind::kStr, bytes(le(1)))); break;    // SHORT_BINUNICODE
      case 0x8d: push(str(Kind::kStr, bytes(le(8)))); break;    // BINUNICODE8
      case 'T': push(str(Kind::kStr, bytes(le(4)))); break;     // BINSTRING (Python 2 str)
      case 'U': push(str(Kind::kStr, bytes(le(1)))); break;     // SHORT_BINSTRING
      case 'B': push(str(Kind::kBytes, bytes(le(4)))); break;   // BINBYTES
      case 'C': push(str(Kind::kBytes, bytes(le(1)))); break;   // SHORT_BINBYTES
      case 0x8e: push(str(Kind::kBytes, bytes(le(8)))); break;  // BINBYTES8
      case 0x96: push(str(Kind::kBytes, bytes(le(8)))); break;  // BYTEARRAY8
      case ')': push(tuple({})); break;                         // EMPTY_TUPLE
      case 't': push(tuple(pop_mark())); break;                 // TUPLE
      case 0x85: {
        Value* a = pop();
        push(tuple({a}));
        break;
      }
      case 0x86: {
        Value* b = pop();
        Value* a = pop();
        push(tuple({a, b}));
        break;
      }
      case 0x87: {
        Value* c = pop();
        Value* b = pop();
        Value* a = pop();
        push(tuple({a, b, c}));
        break;
      }
      case ']': push(make(Kind::kList)); break;  // EMPTY_LIST
      case 'l': {                                // LIST
        Value* l = make(Kind::kList);
        l->items = pop_mark();
        push(l);
        break;
      }
      case 'a': {  // APPEND
        Value* x = pop();
        append(top(), {x});
        break;
      }
      case 'e': {  // APPENDS
        std::vector<Value*> items = pop_mark();
        append(top(), items);
        break;
      }
      case '}': push(make(Kind::kDict)); break;  // EMPTY_DICT
      case 'd': {                                // DICT
        Value* d = make(Kind::kDict);
        set_items(d, pop_mark());
        push(d);
        break;
      }
      case 's': {  // SETITEM
        Value* v = pop();
        Value* k = pop();
        set_items(top(), {k, v});
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Value*> kv = pop_mark();
        set_items(top(), kv);
        break;
      }
      case 'q': memo_put(le(1)); break;   // BINPUT
      case 'r': memo_put(le(4)); break;   // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
      case 'p': {                         // PUT (text)
        const std::string s = line();
        char* e = nullptr;
        const unsigned long long k = std::strtoull(s.c_str(), &e, 10);
        if (s.empty() || *e) error("bad memo key '" + s + "'");
        memo_put(k);
        break;
      }
      case 'h': push(memo_get(le(1))); break;  // BINGET
      case 'j': push(memo_get(le(4))); break;  // LONG_BINGET
      case 'g': {                              // GET (text)
        const std::string s = line();
        char* e = nullptr;
        const unsigned long long k = std::strtoull(s.c_str(), &e, 10);
        if (s.empty() || *e) error("bad memo key '" + s + "'");
        push(memo_get(k));
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module = line();
        const std::string name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = pop();
        Value* module = pop();
        if (name->kind != Kind::kStr || module->kind != Kind::kStr) error("STACK_GLOBAL needs two strings");
        push(global(module->s, name->s));
        break;
      }
      case 'R': {  // REDUCE
        Value* args = pop();
        Value* fn = pop();
        push(apply(fn, args));
        break;
      }
      case 0x81: {  // NEWOBJ cls.__new__(cls, *args)
        Value* args = pop();
        Value* cls = pop();
        push(apply(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX cls.__new__(cls, *args, **kwargs)
        Value* kwargs = pop();
        Value* args = pop();
        Value* cls = pop();
        if (kwargs->kind != Kind::kDict || !kwargs->dict.empty()) error("NEWOBJ_EX with keyword arguments");
        push(apply(cls, args));
        break;
      }
      case 'b': {  // BUILD
        Value* st = pop();
        Value* obj = top();
        if (obj->kind == Kind::kObject) obj->state = st;
        // OrderedDict's __dict__ (state_dict's _metadata) and tensor/parameter state are
        // attributes a weights reader does not need.
        else if (obj->kind != Kind::kDict && obj->kind != Kind::kTensor) error("BUILD on a plain value");
        break;
      }
      case 'Q': {  // BINPERSID
        Value* pid = pop();
        push(storage(pid));
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        error(std::string("unsupported pickle opcode ") + hex);
      }
    }
  }
}

std::unique_ptr<Unpickled> unpickle(const unsigned char* data, size_t size, const std::string& label,
                                    const StorageLoader& load_storage) {
  Machine m(data, size, label, load_storage);
  return m.run();
}

}  // namespace clipkit::io::pickle
