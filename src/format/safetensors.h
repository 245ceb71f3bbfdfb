// SafetensorsFile: a validated, zero-copy view of one .safetensors file.
//
// Layout: u64 LE header length N, N bytes of UTF-8 JSON, then the data section.
//   { "__metadata__": {"k": "v", ...},                      (optional, string values only)
//     "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ... }
// Offsets are relative to the data section. Validation follows the reference implementation:
// the tensors must tile the data section exactly (no gap, no overlap, nothing past the end) and
// every byte range must match dtype x shape. Only F32/F16/BF16 are computed with; other dtypes
// parse but View() refuses them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/base/mapped_file.h"
#include "src/base/status.h"
#include "src/base/tensor.h"

namespace pagellm {

struct SafetensorsTensor {
  std::string name;
  std::string dtype_name;        // as written in the header ("F32", "I64", ...)
  int elem_bytes = 0;
  std::optional<DType> dtype;    // set when pagellm computes with this dtype
  std::vector<int64_t> shape;    // outermost first; empty for a scalar
  uint64_t begin = 0;            // data_offsets, relative to the data section
  uint64_t end = 0;
  std::span<const uint8_t> data;

  int64_t numel() const;
  // A TensorView if the dtype is F32/F16/BF16 and the rank is 1..4; an error naming the tensor
  // and the problem otherwise.
  StatusOr<TensorView> View() const;
};

// Element size of a safetensors dtype name; nullopt for an unknown name.
std::optional<int> SafetensorsDTypeBytes(std::string_view name);
// The safetensors name of a pagellm dtype ("F32", "F16", "BF16"); empty if it has none.
std::string_view SafetensorsDTypeName(DType t);

class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // as the reference implementation

  // Maps and validates a file; errors name the file and the problem.
  static StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Validates bytes the caller keeps alive; `name` prefixes error messages.
  static StatusOr<std::unique_ptr<SafetensorsFile>> Parse(std::span<const uint8_t> bytes,
                                                          std::string name = "<memory>");

  const std::string& name() const { return name_; }
  // Sorted by data offset.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* Find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t data_offset() const { return data_offset_; }
  std::span<const uint8_t> bytes() const { return bytes_; }
  const MappedFile* mapped_file() const { return file_.get(); }

 private:
  SafetensorsFile() = default;
  Status ParseAll();

  std::string name_;
  std::unique_ptr<MappedFile> file_;  // null when parsing caller-owned bytes
  std::span<const uint8_t> bytes_;
  uint64_t data_offset_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  absl::flat_hash_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Returns the byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and
// code points past U+10FFFF are invalid), or nullopt if `s` is valid UTF-8.
std::optional<size_t> FindInvalidUtf8(std::string_view s);

}  // namespace pagellm
