// safetensors: 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the
// raw little-endian data; offsets are relative to the end of the header.
//
// The reader memory-maps the file and validates the whole header before any tensor is handed
// out: offsets inside the data area, dtype × shape equal to the byte range, no overlaps, no
// duplicate names. Tensors are zero-copy views that keep the mapping alive.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace clipkit::io {

class SafetensorsFile {
 public:
  // Opens and validates `path`; throws Error naming the file and the offending tensor.
  static SafetensorsFile open(const std::string& path);
  // Parses an in-memory image of a file (used by the fuzzer; `owner` keeps `data` alive).
  static SafetensorsFile parse(std::shared_ptr<const void> owner, const unsigned char* data,
                               size_t size, const std::string& label);

  const std::string& path() const { return path_; }
  // Tensor names in file order of their data offsets.
  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // The named tensor as a view; throws Error naming the file when absent.
  const Tensor& get(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Bytes of tensor data (excluding the header).
  size_t data_bytes() const { return data_bytes_; }

 private:
  std::string path_;
  std::vector<std::string> names_;
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, std::string> metadata_;
  size_t data_bytes_ = 0;
};

// Writes tensors (any layout; non-contiguous ones are made contiguous) and metadata to `path`,
// laid out by element size (largest first) then name, data start aligned to 8 bytes. Writes to a
// temporary file and renames it, so a failure never leaves a truncated file behind.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace clipkit::io
