// SafetensorsWriter: header JSON (declaration order kept) and streamed tensor data.
#include "src/format/safetensors_writer.h"

#include <cstring>
#include <limits>

#include "nlohmann/json.hpp"
#include "src/format/safetensors.h"

namespace pagellm {

void SafetensorsWriter::SetMetadata(std::string key, std::string value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

Status SafetensorsWriter::AddTensor(std::string name, DType dtype, std::vector<int64_t> shape) {
  const std::string_view dtype_name = SafetensorsDTypeName(dtype);
  if (dtype_name.empty()) {
    return InvalidArgument(StrCat("tensor '", name, "': dtype ", DTypeName(dtype),
                                  " has no safetensors equivalent"));
  }
  return AddTensor(std::move(name), dtype_name, std::move(shape));
}

Status SafetensorsWriter::AddTensor(std::string name, std::string_view dtype_name,
                                    std::vector<int64_t> shape) {
  const auto elem_bytes = SafetensorsDTypeBytes(dtype_name);
  if (!elem_bytes) return InvalidArgument(StrCat("tensor '", name, "': unknown dtype ", dtype_name));
  if (name.empty() || name == "__metadata__") {
    return InvalidArgument(StrCat("invalid tensor name '", name, "'"));
  }
  for (const auto& e : entries_) {
    if (e.name == name) return InvalidArgument(StrCat("duplicate tensor name '", name, "'"));
  }
  uint64_t nbytes = static_cast<uint64_t>(*elem_bytes);
  for (int64_t d : shape) {
    if (d < 0) return InvalidArgument(StrCat("tensor '", name, "' has a negative dimension"));
    if (d != 0 && nbytes > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) {
      return InvalidArgument(StrCat("tensor '", name, "' is too large"));
    }
    nbytes *= static_cast<uint64_t>(d);
  }
  Entry e{std::move(name), std::string(dtype_name), std::move(shape), 0, 0};
  e.begin = data_.Declare(nbytes);
  e.end = e.begin + nbytes;
  entries_.push_back(std::move(e));
  return absl::OkStatus();
}

std::string SafetensorsWriter::Header() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!metadata_.empty()) {
    auto& m = j["__metadata__"];
    m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata_) m[k] = v;
  }
  for (const auto& e : entries_) {
    j[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
  }
  std::string text = j.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  const uint64_t len = text.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &len, 8);
  return out + text;
}

Status SafetensorsWriter::Begin(ByteSink* sink) {
  const std::string header = Header();
  RETURN_IF_ERROR(sink->Write(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(header.data()), header.size())));
  return data_.Begin(sink);
}

StatusOr<std::vector<uint8_t>> SafetensorsWriter::Serialize(
    const std::vector<std::span<const uint8_t>>& data) {
  if (data.size() != entries_.size()) {
    return InvalidArgument(StrCat("Serialize got ", data.size(), " buffers for ", entries_.size(),
                                  " tensors"));
  }
  VectorSink sink;
  RETURN_IF_ERROR(Begin(&sink));
  for (const auto& d : data) RETURN_IF_ERROR(Append(d));
  RETURN_IF_ERROR(Finish());
  return std::move(sink.bytes());
}

}  // namespace pagellm
