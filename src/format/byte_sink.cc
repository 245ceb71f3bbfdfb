// ByteSink implementations: memory and atomically renamed files.
#include "src/format/byte_sink.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace pagellm {

Status ByteSink::WriteZeros(uint64_t n) {
  static constexpr std::array<uint8_t, 4096> kZeros{};
  while (n > 0) {
    const uint64_t chunk = std::min<uint64_t>(n, kZeros.size());
    RETURN_IF_ERROR(Write(std::span<const uint8_t>(kZeros.data(), chunk)));
    n -= chunk;
  }
  return absl::OkStatus();
}

Status VectorSink::Write(std::span<const uint8_t> bytes) {
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  bytes_written_ += bytes.size();
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<FileSink>> FileSink::Create(const std::string& path) {
  std::string tmp = StrCat(path, ".tmp.", ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return NotFound(StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<FileSink>(new FileSink(path, std::move(tmp), f));
}

FileSink::~FileSink() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) std::remove(tmp_path_.c_str());
}

Status FileSink::Write(std::span<const uint8_t> bytes) {
  if (file_ == nullptr) return Internal(StrCat(path_, ": write after commit"));
  if (bytes.empty()) return absl::OkStatus();
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return Internal(StrCat("write to ", tmp_path_, " failed: ", std::strerror(errno)));
  }
  bytes_written_ += bytes.size();
  return absl::OkStatus();
}

Status FileSink::Commit() {
  if (file_ == nullptr) return Internal(StrCat(path_, ": committed twice"));
  const bool flushed = std::fflush(file_) == 0;
  const int err = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) {
    return Internal(StrCat("cannot finish writing ", tmp_path_, ": ", std::strerror(err)));
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return Internal(StrCat("cannot rename ", tmp_path_, " to ", path_, ": ", std::strerror(errno)));
  }
  committed_ = true;
  return absl::OkStatus();
}

}  // namespace pagellm

namespace pagellm {

uint64_t TensorDataStream::Declare(uint64_t nbytes) {
  const uint64_t offset = end_;
  sizes_.push_back(nbytes);
  offsets_.push_back(offset);
  end_ = Pad(offset + nbytes);
  return offset;
}

Status TensorDataStream::Begin(ByteSink* sink) {
  if (sink_ != nullptr) return Internal("TensorDataStream::Begin called twice");
  sink_ = sink;
  current_ = 0;
  written_in_current_ = 0;
  return AdvancePastComplete();
}

Status TensorDataStream::AdvancePastComplete() {
  while (current_ < sizes_.size() && written_in_current_ == sizes_[current_]) {
    const uint64_t next = current_ + 1 < sizes_.size() ? offsets_[current_ + 1] : end_;
    RETURN_IF_ERROR(sink_->WriteZeros(next - offsets_[current_] - sizes_[current_]));
    ++current_;
    written_in_current_ = 0;
  }
  return absl::OkStatus();
}

Status TensorDataStream::Append(std::span<const uint8_t> bytes) {
  if (sink_ == nullptr) return Internal("TensorDataStream::Append before Begin");
  if (current_ >= sizes_.size()) {
    return InvalidArgument(StrCat(bytes.size(), " bytes appended after the last tensor"));
  }
  if (bytes.size() > sizes_[current_] - written_in_current_) {
    return InvalidArgument(StrCat("tensor #", current_, " is ", sizes_[current_],
                                  " bytes; appending ", bytes.size(), " bytes after ",
                                  written_in_current_, " overflows it"));
  }
  RETURN_IF_ERROR(sink_->Write(bytes));
  written_in_current_ += bytes.size();
  return AdvancePastComplete();
}

Status TensorDataStream::Finish() {
  if (sink_ == nullptr) return Internal("TensorDataStream::Finish before Begin");
  if (current_ != sizes_.size()) {
    return InvalidArgument(StrCat("only ", current_, " of ", sizes_.size(),
                                  " tensors were written in full"));
  }
  return absl::OkStatus();
}

}  // namespace pagellm
