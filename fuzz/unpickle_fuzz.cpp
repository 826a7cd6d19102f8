// libFuzzer target: the restricted unpickler (first byte even) and the torch zip reader with the
// unpickler behind it (first byte odd). Either succeeds or throws clipkit::Error; storages handed
// to the unpickler are a 4 KiB buffer, so tensor bounds checks are exercised too.
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "io/torch_zip.h"
#include "io/unpickle.h"

using namespace clipkit;

namespace {

void touch(const Tensor& t) {
  if (t.numel() == 0) return;
  // The last element addressed by the strides must be readable.
  int64_t last = 0;
  for (int i = 0; i < t.ndim(); ++i) last += (t.shape()[i] - 1) * t.strides()[i];
  volatile unsigned char c = static_cast<const unsigned char*>(t.raw())[last * int64_t(dtype_size(t.dtype()))];
  (void)c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool zip = data[0] & 1;
  std::shared_ptr<unsigned char[]> buf(new unsigned char[size - 1 ? size - 1 : 1]);
  if (size > 1) std::memcpy(buf.get(), data + 1, size - 1);
  try {
    if (zip) {
      auto sd = io::parse_torch_checkpoint(std::shared_ptr<const void>(buf, buf.get()), buf.get(), size - 1, "fuzz.pt");
      for (const auto& [n, t] : sd.tensors) touch(t);
    } else {
      static unsigned char storage[4096];
      auto loader = [](const std::string&, DType, int64_t) {
        io::pickle::Storage s;
        s.data = storage;
        s.nbytes = sizeof storage;
        return s;
      };
      auto r = io::pickle::unpickle(buf.get(), size - 1, "fuzz.pkl", loader);
      if (r->root()->kind == io::pickle::Kind::kTensor) touch(r->root()->tensor);
    }
  } catch (const Error&) {
  }
  return 0;
}
