// GgufWriter: streams a valid GGUF v3 file (metadata and tensor infos first, then tensor data in
// declaration order, each tensor aligned), so large models are written tensor by tensor.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/dtype.h"
#include "src/base/status.h"
#include "src/format/byte_sink.h"
#include "src/format/gguf.h"

namespace pagellm {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32);

  // Metadata; setting an existing key replaces its value in place.
  void SetUint8(std::string key, uint8_t v);
  void SetInt32(std::string key, int32_t v);
  void SetUint32(std::string key, uint32_t v);
  void SetInt64(std::string key, int64_t v);
  void SetUint64(std::string key, uint64_t v);
  void SetFloat32(std::string key, float v);
  void SetFloat64(std::string key, double v);
  void SetBool(std::string key, bool v);
  void SetString(std::string key, std::string_view v);
  void SetStringArray(std::string key, std::span<const std::string> v);
  void SetFloat32Array(std::string key, std::span<const float> v);
  void SetInt32Array(std::string key, std::span<const int32_t> v);
  // A value already encoded as GGUF bytes (everything after the type id), for tests.
  void SetRaw(std::string key, GgufType type, std::vector<uint8_t> encoded);

  // Declares the next tensor; shape is outermost first (written to the file as ne[] reversed).
  Status AddTensor(std::string name, DType dtype, std::vector<int64_t> shape);
  Status AddTensorGgml(std::string name, uint32_t ggml_type, std::vector<int64_t> shape);

  // Magic through the padding before the data section.
  std::vector<uint8_t> Header() const;

  // Streaming: Begin writes the header; Append takes the declared tensors' bytes in order (chunks
  // of any size; alignment padding is inserted); Finish checks everything was written.
  Status Begin(ByteSink* sink);
  Status Append(std::span<const uint8_t> bytes) { return data_.Append(bytes); }
  Status Finish() { return data_.Finish(); }

  // Writes the whole file to memory; `data[i]` holds tensor i's bytes.
  StatusOr<std::vector<uint8_t>> Serialize(const std::vector<std::span<const uint8_t>>& data);

 private:
  struct Kv {
    std::string key;
    GgufType type;
    std::vector<uint8_t> value;
  };
  struct TensorEntry {
    std::string name;
    uint32_t ggml_type;
    std::vector<int64_t> shape;
    uint64_t offset;
  };
  void Set(std::string key, GgufType type, std::vector<uint8_t> value);

  uint32_t alignment_;
  std::vector<Kv> kv_;
  std::vector<TensorEntry> tensors_;
  TensorDataStream data_;
};

}  // namespace pagellm
