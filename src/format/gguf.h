// GgufFile: a validated, zero-copy view of a GGUF (v2/v3) file: metadata, tensor infos, tensor data.
//
// Layout (little-endian):
//   "GGUF" u32 version u64 n_tensors u64 n_kv
//   n_kv x     { string key, u32 type, value }          string = u64 length + bytes
//   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   padding to general.alignment (default 32), then the data section; tensor offsets are
//   relative to the data section and aligned.
// Every count and length is checked against the bytes that remain before anything is allocated.
// Keys and tensor names must be non-empty and unique; general.alignment must be a uint32 power of
// two up to 1 MiB; dimensions must be positive with no overflow; tensors may not overlap or run
// past the end of the file. Unknown ggml types are refused; known ones pagellm does not compute
// with (Q4_K, ...) parse, and GgufTensorInfo::View() refuses them by name.
#pragma once

#include <cstdint>
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

enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
std::string_view GgufTypeName(GgufType t);

// One metadata value. Scalars are widened; arrays of numbers keep their raw bytes (decoded on
// access), arrays of strings are views into the file. Arrays of arrays are refused.
struct GgufValue {
  GgufType type = GgufType::kUint8;
  int64_t i = 0;     // any integer type (uint64 values above INT64_MAX are rejected at parse)
  double f = 0;      // float32 / float64
  bool b = false;
  std::string_view str;
  // Arrays:
  GgufType elem_type = GgufType::kUint8;
  uint64_t count = 0;
  std::span<const uint8_t> raw;           // numeric elements, little-endian
  std::vector<std::string_view> strings;  // string elements

  bool is_integer() const;
  bool is_float() const { return type == GgufType::kFloat32 || type == GgufType::kFloat64; }
};

// ggml tensor types (the ids stored in GGUF files).
struct GgmlTypeInfo {
  std::string_view name;
  int block_elems = 0;  // 0: unknown/unsupported id
  int block_bytes = 0;
};
GgmlTypeInfo GgmlType(uint32_t id);
// The pagellm DType for a ggml type id, if pagellm computes with it.
std::optional<DType> DTypeFromGgml(uint32_t id);
uint32_t GgmlFromDType(DType t);

struct GgufTensorInfo {
  std::string_view name;
  uint32_t ggml_type = 0;
  std::vector<int64_t> shape;  // outermost first (GGUF ne[] reversed)
  uint64_t offset = 0;         // relative to the data section
  uint64_t nbytes = 0;
  std::span<const uint8_t> data;

  // A TensorView if pagellm computes with this type; an error naming the tensor otherwise.
  StatusOr<TensorView> View() const;
};

class GgufFile {
 public:
  static constexpr uint64_t kDefaultAlignment = 32;

  // Maps and validates a file. Errors name the file and the problem.
  static StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Validates bytes the caller keeps alive (tests, fuzzers).
  static StatusOr<std::unique_ptr<GgufFile>> Parse(std::span<const uint8_t> bytes);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  const std::vector<std::pair<std::string_view, GgufValue>>& metadata() const { return kv_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  std::span<const uint8_t> bytes() const { return bytes_; }

  const GgufValue* Find(std::string_view key) const;
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  // Typed getters: NotFound if absent, InvalidArgument naming the key on a type mismatch.
  StatusOr<int64_t> GetInt(std::string_view key) const;
  StatusOr<double> GetFloat(std::string_view key) const;  // accepts integers too
  StatusOr<bool> GetBool(std::string_view key) const;
  StatusOr<std::string_view> GetString(std::string_view key) const;
  StatusOr<std::span<const std::string_view>> GetStringArray(std::string_view key) const;
  StatusOr<std::vector<double>> GetFloatArray(std::string_view key) const;
  StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;

  // Defaults for optional keys; a present key of the wrong type is still an error.
  StatusOr<int64_t> GetIntOr(std::string_view key, int64_t def) const;
  StatusOr<double> GetFloatOr(std::string_view key, double def) const;
  StatusOr<bool> GetBoolOr(std::string_view key, bool def) const;

 private:
  GgufFile() = default;
  Status ParseAll();

  std::unique_ptr<MappedFile> file_;  // null when parsing caller-owned bytes
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string_view, GgufValue>> kv_;
  absl::flat_hash_map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  absl::flat_hash_map<std::string, size_t> tensor_index_;
};

}  // namespace pagellm
