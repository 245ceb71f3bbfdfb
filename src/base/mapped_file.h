// MappedFile: a read-only memory map of a whole file (weights are used in place, never copied).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "src/base/status.h"

namespace pagellm {

class MappedFile {
 public:
  static StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Asks the kernel to read the mapping ahead (large models load without page-fault stalls).
  void AdviseWillNeed() const;

 private:
  MappedFile(std::string path, const uint8_t* data, uint64_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;
  uint64_t size_;
};

// Reads a whole (small) file into a string; an error names the path.
StatusOr<std::string> ReadFileToString(const std::string& path, uint64_t max_bytes = 1ull << 30);

}  // namespace pagellm
