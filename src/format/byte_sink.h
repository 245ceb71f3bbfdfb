// ByteSink: where model-file writers put their bytes (a file written atomically, or memory).
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "src/base/status.h"

namespace pagellm {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status Write(std::span<const uint8_t> bytes) = 0;
  Status WriteZeros(uint64_t n);
  uint64_t bytes_written() const { return bytes_written_; }

 protected:
  uint64_t bytes_written_ = 0;
};

// Collects everything in memory (small files, tests).
class VectorSink : public ByteSink {
 public:
  Status Write(std::span<const uint8_t> bytes) override;
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Writes `path` through a temporary file that Commit() renames into place, so a crash or an error
// never leaves a half-written model behind under the final name.
class FileSink : public ByteSink {
 public:
  static StatusOr<std::unique_ptr<FileSink>> Create(const std::string& path);
  ~FileSink() override;  // removes the temporary file unless committed
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  Status Write(std::span<const uint8_t> bytes) override;
  // Flushes, closes and renames the temporary file to the final path.
  Status Commit();
  const std::string& path() const { return path_; }

 private:
  FileSink(std::string path, std::string tmp_path, std::FILE* file)
      : path_(std::move(path)), tmp_path_(std::move(tmp_path)), file_(file) {}
  std::string path_;
  std::string tmp_path_;
  std::FILE* file_;
  bool committed_ = false;
};

}  // namespace pagellm

namespace pagellm {

// The data section of a model file being streamed: tensors of declared sizes, written in order,
// each starting at a multiple of `alignment` relative to the section start (zero padding between,
// and after the last one). Writers use it to accept tensor bytes in arbitrary chunks.
class TensorDataStream {
 public:
  explicit TensorDataStream(uint64_t alignment = 1) : alignment_(alignment) {}

  // Declares the next tensor; returns its offset within the data section.
  uint64_t Declare(uint64_t nbytes);
  uint64_t data_bytes() const { return end_; }  // including padding after the last tensor

  Status Begin(ByteSink* sink);
  // Appends bytes of the current tensor (chunks may not cross into the next tensor).
  Status Append(std::span<const uint8_t> bytes);
  // Fails unless every declared tensor was written in full.
  Status Finish();
  size_t current_tensor() const { return current_; }

 private:
  uint64_t Pad(uint64_t x) const { return (x + alignment_ - 1) / alignment_ * alignment_; }
  Status AdvancePastComplete();

  uint64_t alignment_;
  std::vector<uint64_t> sizes_;
  std::vector<uint64_t> offsets_;
  uint64_t end_ = 0;
  ByteSink* sink_ = nullptr;
  size_t current_ = 0;
  uint64_t written_in_current_ = 0;
};

}  // namespace pagellm
