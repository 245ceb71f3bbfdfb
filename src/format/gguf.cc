// GgufFile: parsing and validation of GGUF headers, metadata and tensor infos.
#include "src/format/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "src/base/byte_reader.h"

namespace pagellm {
namespace {

constexpr uint32_t kMaxDimsGguf = 4;
constexpr uint64_t kMaxAlignment = 1u << 20;

size_t ScalarSize(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

bool KnownType(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }

Status ReadString(ByteReader& r, std::string_view* out, std::string_view what) {
  uint64_t len = 0;
  RETURN_IF_ERROR(r.Read(&len, what));
  if (len > r.remaining()) {
    return DataLoss(StrCat(what, ": string length ", len, " at offset ", r.offset() - 8,
                           " runs past the end of the file (", r.remaining(), " bytes remain)"));
  }
  std::span<const uint8_t> bytes;
  RETURN_IF_ERROR(r.ReadBytes(len, &bytes, what));
  *out = std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return absl::OkStatus();
}

// Reads a little-endian scalar of type `t` into value fields.
Status ReadScalar(ByteReader& r, GgufType t, GgufValue* v, std::string_view what) {
  v->type = t;
  switch (t) {
    case GgufType::kUint8: { uint8_t x = 0; RETURN_IF_ERROR(r.Read(&x, what)); v->i = x; break; }
    case GgufType::kInt8: { int8_t x = 0; RETURN_IF_ERROR(r.Read(&x, what)); v->i = x; break; }
    case GgufType::kUint16: { uint16_t x = 0; RETURN_IF_ERROR(r.Read(&x, what)); v->i = x; break; }
    case GgufType::kInt16: { int16_t x = 0; RETURN_IF_ERROR(r.Read(&x, what)); v->i = x; break; }
    case GgufType::kUint32: { uint32_t x = 0; RETURN_IF_ERROR(r.Read(&x, what)); v->i = x; break; }
    case GgufType::kInt32: { int32_t x = 0; RETURN_IF_ERROR(r.Read(&x, what)); v->i = x; break; }
    case GgufType::kInt64: { int64_t x = 0; RETURN_IF_ERROR(r.Read(&x, what)); v->i = x; break; }
    case GgufType::kUint64: {
      uint64_t x = 0;
      RETURN_IF_ERROR(r.Read(&x, what));
      if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return InvalidArgument(StrCat(what, ": uint64 value ", x, " is out of range"));
      }
      v->i = static_cast<int64_t>(x);
      break;
    }
    case GgufType::kFloat32: { float x = 0; RETURN_IF_ERROR(r.Read(&x, what)); v->f = x; break; }
    case GgufType::kFloat64: { double x = 0; RETURN_IF_ERROR(r.Read(&x, what)); v->f = x; break; }
    case GgufType::kBool: {
      uint8_t x = 0;
      RETURN_IF_ERROR(r.Read(&x, what));
      if (x > 1) return InvalidArgument(StrCat(what, ": bool value ", int{x}, " is not 0 or 1"));
      v->b = x != 0;
      break;
    }
    case GgufType::kString:
      return ReadString(r, &v->str, what);
    case GgufType::kArray:
      return Internal("ReadScalar called on an array");
  }
  return absl::OkStatus();
}

Status ReadValue(ByteReader& r, GgufType t, GgufValue* v, std::string_view what) {
  if (t != GgufType::kArray) return ReadScalar(r, t, v, what);
  v->type = GgufType::kArray;
  uint32_t elem = 0;
  RETURN_IF_ERROR(r.Read(&elem, what));
  if (!KnownType(elem)) return InvalidArgument(StrCat(what, ": unknown array element type ", elem));
  v->elem_type = static_cast<GgufType>(elem);
  RETURN_IF_ERROR(r.Read(&v->count, what));
  const size_t esize = ScalarSize(v->elem_type);
  // Every element takes at least one byte (strings: 8 for the length), so the count is bounded by
  // what remains; this check comes before any allocation.
  const uint64_t min_elem = esize != 0 ? esize : (v->elem_type == GgufType::kString ? 8 : 12);
  if (v->count > r.remaining() / min_elem) {
    return DataLoss(StrCat(what, ": array of ", v->count, " ", GgufTypeName(v->elem_type),
                           " elements runs past the end of the file (", r.remaining(),
                           " bytes remain)"));
  }
  if (esize != 0) {
    RETURN_IF_ERROR(r.ReadBytes(v->count * esize, &v->raw, what));
    if (v->elem_type == GgufType::kBool) {
      for (uint8_t x : v->raw) {
        if (x > 1) return InvalidArgument(StrCat(what, ": bool element is not 0 or 1"));
      }
    }
    return absl::OkStatus();
  }
  if (v->elem_type == GgufType::kString) {
    v->strings.resize(v->count);
    for (auto& s : v->strings) RETURN_IF_ERROR(ReadString(r, &s, what));
    return absl::OkStatus();
  }
  // Nested arrays: no writer produces them and llama.cpp refuses them; so do we (each element
  // would cost far more memory than the 12 bytes it takes in the file).
  return InvalidArgument(StrCat(what, ": arrays of arrays are not supported"));
}

template <typename T>
T LoadLE(const uint8_t* p) {
  T x;
  std::memcpy(&x, p, sizeof(T));
  return x;
}

}  // namespace

std::string_view GgufTypeName(GgufType t) {
  switch (t) {
    case GgufType::kUint8: return "uint8";
    case GgufType::kInt8: return "int8";
    case GgufType::kUint16: return "uint16";
    case GgufType::kInt16: return "int16";
    case GgufType::kUint32: return "uint32";
    case GgufType::kInt32: return "int32";
    case GgufType::kFloat32: return "float32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kUint64: return "uint64";
    case GgufType::kInt64: return "int64";
    case GgufType::kFloat64: return "float64";
  }
  return "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kUint16: case GgufType::kInt16:
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kUint64: case GgufType::kInt64:
      return true;
    default:
      return false;
  }
}

GgmlTypeInfo GgmlType(uint32_t id) {
  switch (id) {
    case 0: return {"F32", 1, 4};
    case 1: return {"F16", 1, 2};
    case 2: return {"Q4_0", 32, 18};
    case 3: return {"Q4_1", 32, 20};
    case 6: return {"Q5_0", 32, 22};
    case 7: return {"Q5_1", 32, 24};
    case 8: return {"Q8_0", 32, 34};
    case 9: return {"Q8_1", 32, 36};
    case 10: return {"Q2_K", 256, 84};
    case 11: return {"Q3_K", 256, 110};
    case 12: return {"Q4_K", 256, 144};
    case 13: return {"Q5_K", 256, 176};
    case 14: return {"Q6_K", 256, 210};
    case 15: return {"Q8_K", 256, 292};
    case 16: return {"IQ2_XXS", 256, 66};
    case 17: return {"IQ2_XS", 256, 74};
    case 18: return {"IQ3_XXS", 256, 98};
    case 19: return {"IQ1_S", 256, 50};
    case 20: return {"IQ4_NL", 32, 18};
    case 21: return {"IQ3_S", 256, 110};
    case 22: return {"IQ2_S", 256, 82};
    case 23: return {"IQ4_XS", 256, 136};
    case 24: return {"I8", 1, 1};
    case 25: return {"I16", 1, 2};
    case 26: return {"I32", 1, 4};
    case 27: return {"I64", 1, 8};
    case 28: return {"F64", 1, 8};
    case 29: return {"IQ1_M", 256, 56};
    case 30: return {"BF16", 1, 2};
    case 34: return {"TQ1_0", 256, 54};
    case 35: return {"TQ2_0", 256, 66};
    default: return {"unknown", 0, 0};
  }
}

std::optional<DType> DTypeFromGgml(uint32_t id) {
  switch (id) {
    case 0: return DType::kF32;
    case 1: return DType::kF16;
    case 30: return DType::kBF16;
    case 8: return DType::kQ8_0;
    case 2: return DType::kQ4_0;
    case 3: return DType::kQ4_1;
    case 6: return DType::kQ5_0;
    case 7: return DType::kQ5_1;
    case 10: return DType::kQ2_K;
    case 11: return DType::kQ3_K;
    case 12: return DType::kQ4_K;
    case 13: return DType::kQ5_K;
    case 14: return DType::kQ6_K;
    case 20: return DType::kIQ4_NL;
    case 26: return DType::kI32;
    default: return std::nullopt;
  }
}

uint32_t GgmlFromDType(DType t) {
  switch (t) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kBF16: return 30;
    case DType::kQ8_0: return 8;
    case DType::kQ4_0: return 2;
    case DType::kQ4_1: return 3;
    case DType::kQ5_0: return 6;
    case DType::kQ5_1: return 7;
    case DType::kQ2_K: return 10;
    case DType::kIQ4_NL: return 20;
    case DType::kQ3_K: return 11;
    case DType::kQ4_K: return 12;
    case DType::kQ5_K: return 13;
    case DType::kQ6_K: return 14;
    case DType::kI32: return 26;
    case DType::kQ4_0x16:
    case DType::kQ8_0x16:
    case DType::kQ4_Kx16:
    case DType::kQ6_Kx16:
    case DType::kQ5_Kx16:
    case DType::kQ5_0x16:
    case DType::kIQ4_NLx16: break;  // in-memory only
  }
  return 0;
}

StatusOr<TensorView> GgufTensorInfo::View() const {
  auto dtype = DTypeFromGgml(ggml_type);
  if (!dtype) {
    return Unimplemented(StrCat("tensor '", name, "' has ggml type ", GgmlType(ggml_type).name,
                                " (", ggml_type, "), which pagellm does not compute with yet"));
  }
  TensorView v;
  v.dtype = *dtype;
  v.ndim = static_cast<int>(shape.size());
  for (int i = 0; i < v.ndim; ++i) v.shape[i] = shape[i];
  v.data = data.data();
  return v;
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  std::unique_ptr<GgufFile> g(new GgufFile());
  g->bytes_ = file->bytes();
  g->file_ = std::move(file);
  Status s = g->ParseAll();
  if (!s.ok()) return Status(s.code(), StrCat(path, ": ", s.message()));
  return g;
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Parse(std::span<const uint8_t> bytes) {
  std::unique_ptr<GgufFile> g(new GgufFile());
  g->bytes_ = bytes;
  RETURN_IF_ERROR(g->ParseAll());
  return g;
}

Status GgufFile::ParseAll() {
  ByteReader r(bytes_);
  uint32_t magic = 0;
  RETURN_IF_ERROR(r.Read(&magic, "GGUF magic"));
  if (std::memcmp(&magic, "GGUF", 4) != 0) {
    return InvalidArgument("not a GGUF file (bad magic; expected the bytes 'GGUF')");
  }
  RETURN_IF_ERROR(r.Read(&version_, "GGUF version"));
  if (version_ == 1) return InvalidArgument("GGUF version 1 is not supported (need 2 or 3)");
  if (version_ != 2 && version_ != 3) {
    if ((version_ & 0xffff) == 0 && version_ != 0) {
      return InvalidArgument(StrCat("GGUF version ", version_,
                                    " looks byte-swapped: big-endian GGUF files are not supported"));
    }
    return InvalidArgument(StrCat("unsupported GGUF version ", version_, " (need 2 or 3)"));
  }
  uint64_t n_tensors = 0, n_kv = 0;
  RETURN_IF_ERROR(r.Read(&n_tensors, "tensor count"));
  RETURN_IF_ERROR(r.Read(&n_kv, "metadata count"));
  // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes, a tensor info at least
  // 8 + 4 + 8 + 4 + 8; counts beyond what remains are lies, refused before allocating.
  if (n_kv > r.remaining() / 13) {
    return DataLoss(StrCat("metadata count ", n_kv, " is larger than the file can hold (",
                           r.remaining(), " bytes remain)"));
  }
  if (n_tensors > r.remaining() / 32) {
    return DataLoss(StrCat("tensor count ", n_tensors, " is larger than the file can hold (",
                           r.remaining(), " bytes remain)"));
  }

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string_view key;
    RETURN_IF_ERROR(ReadString(r, &key, StrCat("metadata key #", k)));
    if (key.empty()) return InvalidArgument(StrCat("metadata key #", k, " is empty"));
    const std::string what = StrCat("metadata '", key, "'");
    uint32_t type = 0;
    RETURN_IF_ERROR(r.Read(&type, what));
    if (!KnownType(type)) return InvalidArgument(StrCat(what, ": unknown value type ", type));
    GgufValue v;
    RETURN_IF_ERROR(ReadValue(r, static_cast<GgufType>(type), &v, what));
    if (!kv_index_.emplace(std::string(key), kv_.size()).second) {
      return InvalidArgument(StrCat("duplicate metadata key '", key, "'"));
    }
    kv_.emplace_back(key, std::move(v));
  }

  if (const GgufValue* a = Find("general.alignment")) {
    if (a->type != GgufType::kUint32) {
      return InvalidArgument(StrCat("general.alignment has type ", GgufTypeName(a->type),
                                    " (must be uint32)"));
    }
    if (a->i <= 0 || (a->i & (a->i - 1)) != 0 || static_cast<uint64_t>(a->i) > kMaxAlignment) {
      return InvalidArgument(StrCat("general.alignment ", a->i,
                                    " is invalid (must be a power of two up to ", kMaxAlignment, ")"));
    }
    alignment_ = static_cast<uint64_t>(a->i);
  }

  for (uint64_t t = 0; t < n_tensors; ++t) {
    GgufTensorInfo info;
    RETURN_IF_ERROR(ReadString(r, &info.name, StrCat("tensor #", t, " name")));
    if (info.name.empty()) return InvalidArgument(StrCat("tensor #", t, " has an empty name"));
    const std::string what = StrCat("tensor '", info.name, "'");
    uint32_t n_dims = 0;
    RETURN_IF_ERROR(r.Read(&n_dims, what));
    if (n_dims == 0 || n_dims > kMaxDimsGguf) {
      return InvalidArgument(StrCat(what, " has ", n_dims, " dimensions (must be 1 to ",
                                    kMaxDimsGguf, ")"));
    }
    info.shape.resize(n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = 0;
      RETURN_IF_ERROR(r.Read(&ne, what));
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return InvalidArgument(StrCat(what, " has invalid dimension ", d, " = ", ne));
      }
      if (numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ne) {
        return InvalidArgument(StrCat(what, ": element count overflows"));
      }
      numel *= ne;
      info.shape[n_dims - 1 - d] = static_cast<int64_t>(ne);
    }
    RETURN_IF_ERROR(r.Read(&info.ggml_type, what));
    const GgmlTypeInfo ti = GgmlType(info.ggml_type);
    if (ti.block_elems == 0) {
      return InvalidArgument(StrCat(what, " has unknown ggml type ", info.ggml_type));
    }
    const uint64_t ne0 = static_cast<uint64_t>(info.shape.back());
    if (ne0 % static_cast<uint64_t>(ti.block_elems) != 0) {
      return InvalidArgument(StrCat(what, ": row length ", ne0, " is not a multiple of the ",
                                    ti.name, " block size ", ti.block_elems));
    }
    const uint64_t blocks = numel / static_cast<uint64_t>(ti.block_elems);
    if (blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(ti.block_bytes)) {
      return InvalidArgument(StrCat(what, ": byte size overflows"));
    }
    info.nbytes = blocks * static_cast<uint64_t>(ti.block_bytes);
    RETURN_IF_ERROR(r.Read(&info.offset, what));
    if (info.offset % alignment_ != 0) {
      return InvalidArgument(StrCat(what, ": data offset ", info.offset,
                                    " is not a multiple of the alignment ", alignment_));
    }
    if (!tensor_index_.emplace(std::string(info.name), tensors_.size()).second) {
      return InvalidArgument(StrCat("duplicate tensor name '", info.name, "'"));
    }
    tensors_.push_back(std::move(info));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t header_end = r.offset();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  if (!tensors_.empty() && data_offset_ > bytes_.size()) {
    return DataLoss(StrCat("truncated file: the tensor data section should start at offset ",
                           data_offset_, " but the file has ", bytes_.size(), " bytes"));
  }
  const uint64_t data_size = tensors_.empty() ? 0 : bytes_.size() - data_offset_;
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      return DataLoss(StrCat("tensor '", t.name, "' data (offset ", t.offset, ", ", t.nbytes,
                             " bytes) runs past the end of the file (data section has ", data_size,
                             " bytes)"));
    }
    t.data = bytes_.subspan(data_offset_ + t.offset, t.nbytes);
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto* prev = by_offset[i - 1];
    if (prev->offset + prev->nbytes > by_offset[i]->offset) {
      return InvalidArgument(StrCat("tensors '", prev->name, "' and '", by_offset[i]->name,
                                    "' overlap in the data section"));
    }
  }
  return absl::OkStatus();
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = kv_index_.find(ToAbsl(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(ToAbsl(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
Status Missing(std::string_view key) { return NotFound(StrCat("GGUF key '", key, "' is missing")); }
Status WrongType(std::string_view key, const GgufValue& v, std::string_view want) {
  return InvalidArgument(StrCat("GGUF key '", key, "' has type ", GgufTypeName(v.type),
                                (v.type == GgufType::kArray ? StrCat(" of ", GgufTypeName(v.elem_type)) : ""),
                                ", expected ", want));
}
}  // namespace

StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (!v->is_integer()) return WrongType(key, *v, "an integer");
  return v->i;
}

StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->is_float()) return v->f;
  if (v->is_integer()) return static_cast<double>(v->i);
  return WrongType(key, *v, "a number");
}

StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != GgufType::kBool) return WrongType(key, *v, "bool");
  return v->b;
}

StatusOr<std::string_view> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != GgufType::kString) return WrongType(key, *v, "string");
  return v->str;
}

StatusOr<std::span<const std::string_view>> GgufFile::GetStringArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != GgufType::kArray || v->elem_type != GgufType::kString) {
    return WrongType(key, *v, "array of string");
  }
  return std::span<const std::string_view>(v->strings);
}

StatusOr<std::vector<double>> GgufFile::GetFloatArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != GgufType::kArray) return WrongType(key, *v, "array of numbers");
  std::vector<double> out;
  out.reserve(v->count);
  const uint8_t* p = v->raw.data();
  for (uint64_t i = 0; i < v->count; ++i) {
    switch (v->elem_type) {
      case GgufType::kFloat32: out.push_back(LoadLE<float>(p + 4 * i)); break;
      case GgufType::kFloat64: out.push_back(LoadLE<double>(p + 8 * i)); break;
      default: return WrongType(key, *v, "array of float32/float64");
    }
  }
  return out;
}

StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != GgufType::kArray) return WrongType(key, *v, "array of integers");
  std::vector<int64_t> out;
  out.reserve(v->count);
  const uint8_t* p = v->raw.data();
  for (uint64_t i = 0; i < v->count; ++i) {
    switch (v->elem_type) {
      case GgufType::kUint8: out.push_back(p[i]); break;
      case GgufType::kInt8: out.push_back(static_cast<int8_t>(p[i])); break;
      case GgufType::kUint16: out.push_back(LoadLE<uint16_t>(p + 2 * i)); break;
      case GgufType::kInt16: out.push_back(LoadLE<int16_t>(p + 2 * i)); break;
      case GgufType::kUint32: out.push_back(LoadLE<uint32_t>(p + 4 * i)); break;
      case GgufType::kInt32: out.push_back(LoadLE<int32_t>(p + 4 * i)); break;
      case GgufType::kInt64: out.push_back(LoadLE<int64_t>(p + 8 * i)); break;
      case GgufType::kUint64: {
        const uint64_t x = LoadLE<uint64_t>(p + 8 * i);
        if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return InvalidArgument(StrCat("GGUF key '", key, "' has an out-of-range uint64 element"));
        }
        out.push_back(static_cast<int64_t>(x));
        break;
      }
      default: return WrongType(key, *v, "array of integers");
    }
  }
  return out;
}

StatusOr<int64_t> GgufFile::GetIntOr(std::string_view key, int64_t def) const {
  return Find(key) ? GetInt(key) : StatusOr<int64_t>(def);
}
StatusOr<double> GgufFile::GetFloatOr(std::string_view key, double def) const {
  return Find(key) ? GetFloat(key) : StatusOr<double>(def);
}
StatusOr<bool> GgufFile::GetBoolOr(std::string_view key, bool def) const {
  return Find(key) ? GetBool(key) : StatusOr<bool>(def);
}

}  // namespace pagellm
