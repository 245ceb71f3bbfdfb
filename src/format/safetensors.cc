// SafetensorsFile: header parsing (nlohmann JSON, exceptions caught here) and layout validation.
#include "src/format/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "nlohmann/json.hpp"

namespace pagellm {
namespace {

using Json = nlohmann::json;

constexpr int kMaxJsonDepth = 8;

struct DTypeEntry {
  std::string_view name;
  int bytes;
};
constexpr DTypeEntry kDTypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2},
    {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},    {"U32", 4},     {"F32", 4},
    {"F64", 8},  {"I64", 8}, {"U64", 8},
};

std::optional<DType> ComputeDType(std::string_view name) {
  if (name == "F32") return DType::kF32;
  if (name == "F16") return DType::kF16;
  if (name == "BF16") return DType::kBF16;
  return std::nullopt;
}

// Refuses nesting deeper than kMaxJsonDepth before handing the text to the JSON parser.
Status CheckJsonDepth(std::string_view s) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) {
        return InvalidArgument(StrCat("header JSON nests deeper than ", kMaxJsonDepth,
                                      " levels (at byte ", i, ")"));
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return absl::OkStatus();
}

// Reads a non-negative JSON integer.
Status ReadUint(const Json& j, uint64_t* out, std::string_view what) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return absl::OkStatus();
  }
  if (j.is_number_integer()) {
    return InvalidArgument(StrCat(what, " is negative (", j.get<int64_t>(), ")"));
  }
  if (j.is_number_float()) {
    return InvalidArgument(StrCat(what, " is not an integer (", j.dump(), ")"));
  }
  return InvalidArgument(StrCat(what, " is not a number (", j.type_name(), ")"));
}

Status ParseEntry(const std::string& name, const Json& j, SafetensorsTensor* t) {
  const std::string what = StrCat("tensor '", name, "'");
  if (!j.is_object()) {
    return InvalidArgument(StrCat(what, ": entry is a JSON ", j.type_name(), ", not an object"));
  }
  t->name = name;
  const auto dtype = j.find("dtype");
  if (dtype == j.end() || !dtype->is_string()) {
    return InvalidArgument(StrCat(what, ": missing or non-string \"dtype\""));
  }
  t->dtype_name = dtype->get<std::string>();
  const auto bytes = SafetensorsDTypeBytes(t->dtype_name);
  if (!bytes) return InvalidArgument(StrCat(what, ": unknown dtype \"", t->dtype_name, "\""));
  t->elem_bytes = *bytes;
  t->dtype = ComputeDType(t->dtype_name);

  const auto shape = j.find("shape");
  if (shape == j.end() || !shape->is_array()) {
    return InvalidArgument(StrCat(what, ": missing or non-array \"shape\""));
  }
  uint64_t numel = 1;
  for (size_t d = 0; d < shape->size(); ++d) {
    uint64_t dim = 0;
    RETURN_IF_ERROR(ReadUint((*shape)[d], &dim, StrCat(what, ": shape dimension ", d)));
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return InvalidArgument(StrCat(what, ": shape dimension ", d, " = ", dim, " overflows"));
    }
    if (dim != 0 && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim) {
      return InvalidArgument(StrCat(what, ": element count of shape overflows"));
    }
    numel *= dim;
    t->shape.push_back(static_cast<int64_t>(dim));
  }
  const auto offsets = j.find("data_offsets");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2) {
    return InvalidArgument(StrCat(what, ": \"data_offsets\" must be an array of two integers"));
  }
  RETURN_IF_ERROR(ReadUint((*offsets)[0], &t->begin, StrCat(what, ": data_offsets[0]")));
  RETURN_IF_ERROR(ReadUint((*offsets)[1], &t->end, StrCat(what, ": data_offsets[1]")));
  if (t->begin > t->end) {
    return InvalidArgument(StrCat(what, ": data_offsets [", t->begin, ", ", t->end,
                                  "] are out of order (begin > end)"));
  }
  if (numel > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(t->elem_bytes)) {
    return InvalidArgument(StrCat(what, ": byte size of shape overflows"));
  }
  const uint64_t nbytes = numel * static_cast<uint64_t>(t->elem_bytes);
  if (t->end - t->begin != nbytes) {
    return InvalidArgument(StrCat(what, ": byte size mismatch: dtype ", t->dtype_name, " x shape ",
                                  j.at("shape").dump(), " needs ", nbytes, " bytes but data_offsets [",
                                  t->begin, ", ", t->end, "] hold ", t->end - t->begin));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<int> SafetensorsDTypeBytes(std::string_view name) {
  for (const auto& e : kDTypes) {
    if (e.name == name) return e.bytes;
  }
  return std::nullopt;
}

std::string_view SafetensorsDTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI32: return "I32";
    default: return "";
  }
}

std::optional<size_t> FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (n - i < static_cast<size_t>(len)) return i;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += static_cast<size_t>(len);
  }
  return std::nullopt;
}

int64_t SafetensorsTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

StatusOr<TensorView> SafetensorsTensor::View() const {
  if (!dtype) {
    return Unimplemented(StrCat("tensor '", name, "' has dtype ", dtype_name,
                                "; pagellm computes with F32, F16 and BF16 only"));
  }
  if (shape.empty() || shape.size() > static_cast<size_t>(kMaxDims)) {
    return InvalidArgument(StrCat("tensor '", name, "' has rank ", shape.size(),
                                  " (must be 1 to ", kMaxDims, ")"));
  }
  TensorView v;
  v.dtype = *dtype;
  v.ndim = static_cast<int>(shape.size());
  for (int i = 0; i < v.ndim; ++i) v.shape[i] = shape[i];
  v.data = data.data();
  return v;
}

StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->name_ = path;
  f->bytes_ = file->bytes();
  f->file_ = std::move(file);
  Status s = f->ParseAll();
  if (!s.ok()) return Status(s.code(), StrCat(path, ": ", s.message()));
  return f;
}

StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Parse(std::span<const uint8_t> bytes,
                                                                  std::string name) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->name_ = std::move(name);
  f->bytes_ = bytes;
  Status s = f->ParseAll();
  if (!s.ok()) return Status(s.code(), StrCat(f->name_, ": ", s.message()));
  return f;
}

const SafetensorsTensor* SafetensorsFile::Find(std::string_view name) const {
  auto it = index_.find(ToAbsl(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Status SafetensorsFile::ParseAll() {
  if (bytes_.size() < 8) {
    return DataLoss(StrCat("truncated file: ", bytes_.size(),
                           " bytes, too short for the 8-byte header length"));
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes_.data(), 8);
  const uint64_t available = bytes_.size() - 8;
  if (header_len > kMaxHeaderBytes) {
    return InvalidArgument(StrCat("header length ", header_len, " exceeds the limit of ",
                                  kMaxHeaderBytes, " bytes"));
  }
  if (header_len > available) {
    return DataLoss(StrCat("header length ", header_len, " is larger than the file (",
                           available, " bytes follow the length)"));
  }
  if (header_len < 2) return InvalidArgument(StrCat("header length ", header_len, " is too small"));
  const std::string_view text(reinterpret_cast<const char*>(bytes_.data()) + 8, header_len);
  if (auto bad = FindInvalidUtf8(text)) {
    return InvalidArgument(StrCat("header is not valid UTF-8 (bad byte at header offset ", *bad, ")"));
  }
  RETURN_IF_ERROR(CheckJsonDepth(text));

  // Duplicate keys are legal JSON but ambiguous here; the parser callback records them.
  std::vector<std::set<std::string>> seen_keys;
  std::string duplicate;
  Json header;
  try {
    header = Json::parse(
        text.begin(), text.end(),
        [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
          if (event == Json::parse_event_t::object_start) {
            seen_keys.emplace_back();
          } else if (event == Json::parse_event_t::object_end) {
            if (!seen_keys.empty()) seen_keys.pop_back();
          } else if (event == Json::parse_event_t::key && !seen_keys.empty()) {
            const std::string key = parsed.get<std::string>();
            if (!seen_keys.back().insert(key).second && duplicate.empty()) duplicate = key;
          }
          return true;
        });
  } catch (const Json::exception& e) {
    return InvalidArgument(StrCat("header is not valid JSON: ", e.what()));
  }
  if (!header.is_object()) {
    return InvalidArgument(StrCat("header JSON is a ", header.type_name(), ", not an object"));
  }
  if (!duplicate.empty()) {
    return InvalidArgument(StrCat("header has a duplicate name '", duplicate, "'"));
  }

  data_offset_ = 8 + header_len;
  const uint64_t data_size = bytes_.size() - data_offset_;
  tensors_.reserve(header.size());
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) return InvalidArgument("__metadata__ is not a JSON object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) {
          return InvalidArgument(StrCat("__metadata__ value '", mk, "' is a ", mv.type_name(),
                                        ", not a string"));
        }
        metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    SafetensorsTensor t;
    RETURN_IF_ERROR(ParseEntry(key, value, &t));
    if (t.end > data_size) {
      return DataLoss(StrCat("tensor '", key, "': data_offsets [", t.begin, ", ", t.end,
                             "] run past the end of the file (data section has ", data_size,
                             " bytes)"));
    }
    t.data = bytes_.subspan(data_offset_ + t.begin, t.end - t.begin);
    tensors_.push_back(std::move(t));
  }

  // The tensors must tile [0, data_size) exactly.
  std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  const SafetensorsTensor* prev = nullptr;
  for (const auto& t : tensors_) {
    if (t.begin < expected) {
      return InvalidArgument(StrCat("tensors '", prev->name, "' and '", t.name,
                                    "' overlap: data_offsets [", prev->begin, ", ", prev->end,
                                    "] and [", t.begin, ", ", t.end, "]"));
    }
    if (t.begin > expected) {
      return InvalidArgument(StrCat("gap in the data section: bytes [", expected, ", ", t.begin,
                                    ") before tensor '", t.name, "' belong to no tensor"));
    }
    expected = t.end;
    prev = &t;
  }
  if (expected != data_size) {
    return InvalidArgument(StrCat("gap in the data section: the last ", data_size - expected,
                                  " bytes (from offset ", expected, ") belong to no tensor"));
  }
  for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  return absl::OkStatus();
}

}  // namespace pagellm
