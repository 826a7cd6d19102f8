// A minimal reader of zip archives as PyTorch writes them (torch.save and TorchScript): the
// central directory (with ZIP64 records for archives or entries over 4 GiB), stored entries
// served as pointers into the memory-mapped file, deflated entries inflated with zlib. Every
// offset and size is bounds-checked against the file; errors name the archive and the entry.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace clipkit::io {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint16_t method = 0;  // 0 stored, 8 deflated
    uint32_t crc32 = 0;
    uint64_t compressed_size = 0;
    uint64_t size = 0;
    uint64_t local_header_offset = 0;
    uint64_t data_offset = 0;  // start of the entry's bytes in the file
  };
  // The bytes of an entry: a pointer into the mapping (stored) or an owned inflated copy.
  struct Bytes {
    const unsigned char* data = nullptr;
    size_t size = 0;
    std::shared_ptr<const void> owner;  // keeps `data` alive
  };

  // Maps and indexes `path`.
  static ZipArchive open(const std::string& path);
  // Indexes an in-memory archive (`owner` keeps `data` alive).
  static ZipArchive parse(std::shared_ptr<const void> owner, const unsigned char* data, size_t size,
                          const std::string& label);

  const std::string& label() const { return label_; }
  const std::vector<Entry>& entries() const { return entries_; }
  // The entry named `name`, or null.
  const Entry* find(const std::string& name) const;
  // The entry's bytes. Deflated entries are inflated and their CRC checked; stored entries are
  // returned in place (their CRC is checked only when `verify_crc`, since that reads every page).
  Bytes read(const Entry& e, bool verify_crc = false) const;

 private:
  std::shared_ptr<const void> owner_;
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
  std::string label_;
  std::vector<Entry> entries_;
};

}  // namespace clipkit::io
