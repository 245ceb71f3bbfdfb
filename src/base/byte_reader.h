// ByteReader: a bounds-checked little-endian cursor over untrusted bytes (model files).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "src/base/status.h"

namespace pagellm {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t offset() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  uint64_t size() const { return bytes_.size(); }

  // Reads a trivially copyable little-endian value; `what` names it in the error.
  template <typename T>
  Status Read(T* out, std::string_view what) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return Truncated(what, sizeof(T));
    std::memcpy(out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return absl::OkStatus();
  }

  // A view of the next `n` bytes; fails without moving if fewer remain.
  Status ReadBytes(uint64_t n, std::span<const uint8_t>* out, std::string_view what) {
    if (remaining() < n) return Truncated(what, n);
    *out = bytes_.subspan(pos_, n);
    pos_ += n;
    return absl::OkStatus();
  }

  Status Skip(uint64_t n, std::string_view what) {
    if (remaining() < n) return Truncated(what, n);
    pos_ += n;
    return absl::OkStatus();
  }

  Status Seek(uint64_t pos, std::string_view what) {
    if (pos > bytes_.size()) {
      return DataLoss(StrCat(what, ": offset ", pos, " is past the end (", bytes_.size(),
                                   " bytes)"));
    }
    pos_ = pos;
    return absl::OkStatus();
  }

 private:
  Status Truncated(std::string_view what, uint64_t need) const {
    return DataLoss(StrCat("truncated file: ", what, " needs ", need, " bytes at offset ", pos_,
                                 " but only ", remaining(), " remain"));
  }

  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

}  // namespace pagellm
