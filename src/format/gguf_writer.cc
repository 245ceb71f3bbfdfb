// GgufWriter: metadata encoding, tensor infos and streamed, aligned tensor data.
#include "src/format/gguf_writer.h"

#include <cstring>
#include <limits>

namespace pagellm {
namespace {

template <typename T>
void Put(std::vector<uint8_t>& out, T v) {
  const size_t n = out.size();
  out.resize(n + sizeof(T));
  std::memcpy(out.data() + n, &v, sizeof(T));
}

void PutString(std::vector<uint8_t>& out, std::string_view s) {
  Put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

template <typename T>
std::vector<uint8_t> Scalar(T v) {
  std::vector<uint8_t> out;
  Put(out, v);
  return out;
}

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment), data_(alignment) {
  if (alignment != GgufFile::kDefaultAlignment) SetUint32("general.alignment", alignment);
}

void GgufWriter::Set(std::string key, GgufType type, std::vector<uint8_t> value) {
  for (auto& kv : kv_) {
    if (kv.key == key) {
      kv.type = type;
      kv.value = std::move(value);
      return;
    }
  }
  kv_.push_back({std::move(key), type, std::move(value)});
}

void GgufWriter::SetUint8(std::string key, uint8_t v) { Set(std::move(key), GgufType::kUint8, Scalar(v)); }
void GgufWriter::SetInt32(std::string key, int32_t v) { Set(std::move(key), GgufType::kInt32, Scalar(v)); }
void GgufWriter::SetUint32(std::string key, uint32_t v) { Set(std::move(key), GgufType::kUint32, Scalar(v)); }
void GgufWriter::SetInt64(std::string key, int64_t v) { Set(std::move(key), GgufType::kInt64, Scalar(v)); }
void GgufWriter::SetUint64(std::string key, uint64_t v) { Set(std::move(key), GgufType::kUint64, Scalar(v)); }
void GgufWriter::SetFloat32(std::string key, float v) { Set(std::move(key), GgufType::kFloat32, Scalar(v)); }
void GgufWriter::SetFloat64(std::string key, double v) { Set(std::move(key), GgufType::kFloat64, Scalar(v)); }
void GgufWriter::SetBool(std::string key, bool v) {
  Set(std::move(key), GgufType::kBool, Scalar<uint8_t>(v ? 1 : 0));
}
void GgufWriter::SetString(std::string key, std::string_view v) {
  std::vector<uint8_t> out;
  PutString(out, v);
  Set(std::move(key), GgufType::kString, std::move(out));
}
void GgufWriter::SetStringArray(std::string key, std::span<const std::string> v) {
  std::vector<uint8_t> out;
  Put<uint32_t>(out, static_cast<uint32_t>(GgufType::kString));
  Put<uint64_t>(out, v.size());
  for (const auto& s : v) PutString(out, s);
  Set(std::move(key), GgufType::kArray, std::move(out));
}
void GgufWriter::SetFloat32Array(std::string key, std::span<const float> v) {
  std::vector<uint8_t> out;
  Put<uint32_t>(out, static_cast<uint32_t>(GgufType::kFloat32));
  Put<uint64_t>(out, v.size());
  for (float x : v) Put(out, x);
  Set(std::move(key), GgufType::kArray, std::move(out));
}
void GgufWriter::SetInt32Array(std::string key, std::span<const int32_t> v) {
  std::vector<uint8_t> out;
  Put<uint32_t>(out, static_cast<uint32_t>(GgufType::kInt32));
  Put<uint64_t>(out, v.size());
  for (int32_t x : v) Put(out, x);
  Set(std::move(key), GgufType::kArray, std::move(out));
}
void GgufWriter::SetRaw(std::string key, GgufType type, std::vector<uint8_t> encoded) {
  Set(std::move(key), type, std::move(encoded));
}

Status GgufWriter::AddTensor(std::string name, DType dtype, std::vector<int64_t> shape) {
  return AddTensorGgml(std::move(name), GgmlFromDType(dtype), std::move(shape));
}

Status GgufWriter::AddTensorGgml(std::string name, uint32_t ggml_type, std::vector<int64_t> shape) {
  const GgmlTypeInfo info = GgmlType(ggml_type);
  if (info.block_elems == 0) {
    return InvalidArgument(StrCat("tensor '", name, "': unknown ggml type ", ggml_type));
  }
  if (name.empty()) return InvalidArgument("empty tensor name");
  for (const auto& t : tensors_) {
    if (t.name == name) return InvalidArgument(StrCat("duplicate tensor name '", name, "'"));
  }
  if (shape.empty() || shape.size() > 4) {
    return InvalidArgument(StrCat("tensor '", name, "' has rank ", shape.size(), " (1 to 4)"));
  }
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d <= 0) return InvalidArgument(StrCat("tensor '", name, "' has a non-positive dimension"));
    if (numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / static_cast<uint64_t>(d)) {
      return InvalidArgument(StrCat("tensor '", name, "' is too large"));
    }
    numel *= static_cast<uint64_t>(d);
  }
  if (static_cast<uint64_t>(shape.back()) % static_cast<uint64_t>(info.block_elems) != 0) {
    return InvalidArgument(StrCat("tensor '", name, "': row length ", shape.back(),
                                  " is not a multiple of the ", info.name, " block size"));
  }
  const uint64_t nbytes =
      numel / static_cast<uint64_t>(info.block_elems) * static_cast<uint64_t>(info.block_bytes);
  const uint64_t offset = data_.Declare(nbytes);
  tensors_.push_back({std::move(name), ggml_type, std::move(shape), offset});
  return absl::OkStatus();
}

std::vector<uint8_t> GgufWriter::Header() const {
  std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
  Put<uint32_t>(out, 3);
  Put<uint64_t>(out, tensors_.size());
  Put<uint64_t>(out, kv_.size());
  for (const auto& kv : kv_) {
    PutString(out, kv.key);
    Put<uint32_t>(out, static_cast<uint32_t>(kv.type));
    out.insert(out.end(), kv.value.begin(), kv.value.end());
  }
  for (const auto& t : tensors_) {
    PutString(out, t.name);
    Put<uint32_t>(out, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) Put<uint64_t>(out, *it);
    Put<uint32_t>(out, t.ggml_type);
    Put<uint64_t>(out, t.offset);
  }
  while (out.size() % alignment_ != 0) out.push_back(0);
  return out;
}

Status GgufWriter::Begin(ByteSink* sink) {
  RETURN_IF_ERROR(sink->Write(Header()));
  return data_.Begin(sink);
}

StatusOr<std::vector<uint8_t>> GgufWriter::Serialize(
    const std::vector<std::span<const uint8_t>>& data) {
  if (data.size() != tensors_.size()) {
    return InvalidArgument(StrCat("Serialize got ", data.size(), " buffers for ", tensors_.size(),
                                  " tensors"));
  }
  VectorSink sink;
  RETURN_IF_ERROR(Begin(&sink));
  for (const auto& d : data) RETURN_IF_ERROR(Append(d));
  RETURN_IF_ERROR(Finish());
  return std::move(sink.bytes());
}

}  // namespace pagellm
