// Read-only memory map of a whole file. Weights are viewed in place through Tensor::view with the
// MappedFile as owner, so a checkpoint's pages are only read when a kernel touches them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace clipkit {

class MappedFile {
 public:
  // Maps `path`; throws Error naming the path when it is missing, unreadable or a directory.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Reads a whole file into a string; throws Error naming the path on failure.
std::string read_file(const std::string& path);

}  // namespace clipkit
