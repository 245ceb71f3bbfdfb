// SafetensorsWriter: streams a valid .safetensors file (header first, then tensor bytes in the
// order the tensors were declared), so a multi-GB model never has to sit in memory at once.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/dtype.h"
#include "src/base/status.h"
#include "src/format/byte_sink.h"

namespace pagellm {

class SafetensorsWriter {
 public:
  void SetMetadata(std::string key, std::string value);
  // Declares the next tensor (shape outermost first). Names must be unique.
  Status AddTensor(std::string name, DType dtype, std::vector<int64_t> shape);
  // Any safetensors dtype by name ("I64", "F8_E4M3", ...).
  Status AddTensor(std::string name, std::string_view dtype_name, std::vector<int64_t> shape);

  // The 8-byte length plus the JSON header, padded with spaces so the data starts 8-aligned.
  std::string Header() const;

  // Streaming: Begin writes the header; Append takes the declared tensors' bytes in order, in
  // chunks of any size; Finish checks everything was written.
  Status Begin(ByteSink* sink);
  Status Append(std::span<const uint8_t> bytes) { return data_.Append(bytes); }
  Status Finish() { return data_.Finish(); }

  // Writes the whole file to memory; `data[i]` holds tensor i's bytes.
  StatusOr<std::vector<uint8_t>> Serialize(const std::vector<std::span<const uint8_t>>& data);

 private:
  struct Entry {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0;
    uint64_t end = 0;
  };
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::vector<Entry> entries_;
  TensorDataStream data_{1};
};

}  // namespace pagellm
