// libFuzzer target: the safetensors header parser on arbitrary bytes must either accept the file
// (and then every tensor view lies inside the input) or throw clipkit::Error.
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A private copy so that views may outlive nothing and ASan sees exact bounds.
  std::shared_ptr<unsigned char[]> buf(new unsigned char[size ? size : 1]);
  if (size) std::memcpy(buf.get(), data, size);
  try {
    auto f = clipkit::io::SafetensorsFile::parse(std::shared_ptr<const void>(buf, buf.get()), buf.get(),
                                                 size, "fuzz.safetensors");
    volatile unsigned sum = 0;
    for (const auto& n : f.names()) {
      const clipkit::Tensor& t = f.get(n);
      const auto* p = static_cast<const unsigned char*>(t.raw());
      if (t.nbytes() > 0) sum = sum + p[0] + p[t.nbytes() - 1];  // touch both ends of every view
    }
  } catch (const clipkit::Error&) {
  }
  return 0;
}
