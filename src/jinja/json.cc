// nlohmann JSON <-> Value conversion and a Python-compatible json.dumps.
#include "src/jinja/json.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "src/jinja/pystr.h"

namespace pagellm::jinja {

namespace {

template <typename J>
StatusOr<Value> FromJsonAt(const J& j, Heap* heap, int depth, int max_depth) {
  if (depth > max_depth) return InvalidArgument("JSON input is nested too deeply");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::None();
    case nlohmann::json::value_t::boolean: return Value::Bool(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::Int(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Value::Int(static_cast<int64_t>(u));
      }
      return Value::Float(static_cast<double>(u));
    }
    case nlohmann::json::value_t::number_float: return Value::Float(j.template get<double>());
    case nlohmann::json::value_t::string: return Value::Str(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& x : j) {
        ASSIGN_OR_RETURN(Value v, FromJsonAt(x, heap, depth + 1, max_depth));
        items.push_back(std::move(v));
      }
      return heap->NewList(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value d = heap->NewDict();
      for (auto it = j.begin(); it != j.end(); ++it) {
        ASSIGN_OR_RETURN(Value v, FromJsonAt(it.value(), heap, depth + 1, max_depth));
        d.dict()->Set(Value::Str(it.key()), std::move(v));
      }
      heap->NoteDict(*d.dict());
      return d;
    }
    default: return InvalidArgument("unsupported JSON value (binary or discarded)");
  }
}

Status NotSerializable(const Value& v) {
  return InvalidArgument(StrCat("Object of type ", TypeName(v), " is not JSON serializable"));
}

StatusOr<nlohmann::ordered_json> ToJsonAt(const Value& v, int depth, int max_depth) {
  if (depth > max_depth) return InvalidArgument("value is nested too deeply for JSON");
  switch (v.kind()) {
    case Kind::kNone: return nlohmann::ordered_json(nullptr);
    case Kind::kBool: return nlohmann::ordered_json(v.b());
    case Kind::kInt: return nlohmann::ordered_json(v.i());
    case Kind::kFloat: return nlohmann::ordered_json(v.d());
    case Kind::kString: return nlohmann::ordered_json(v.str());
    case Kind::kList:
    case Kind::kTuple: {
      auto arr = nlohmann::ordered_json::array();
      for (const Value& x : v.list()->items) {
        ASSIGN_OR_RETURN(auto j, ToJsonAt(x, depth + 1, max_depth));
        arr.push_back(std::move(j));
      }
      return arr;
    }
    case Kind::kDict: {
      auto obj = nlohmann::ordered_json::object();
      for (const auto& [k, x] : v.dict()->entries) {
        if (!k.is_string()) return InvalidArgument("dict keys must be strings to convert to JSON");
        ASSIGN_OR_RETURN(auto j, ToJsonAt(x, depth + 1, max_depth));
        obj[k.str()] = std::move(j);
      }
      return obj;
    }
    default: return NotSerializable(v);
  }
}

class Dumper {
 public:
  explicit Dumper(const DumpOptions& o) : o_(o) {
    item_sep_ = o.item_separator ? *o.item_separator : (o.indent ? "," : ", ");
    key_sep_ = o.key_separator ? *o.key_separator : ": ";
  }

  Status Dump(const Value& v, int level) {
    if (level > 256) return InvalidArgument("Circular reference detected");
    if (out_.size() > o_.max_bytes) {
      return absl::ResourceExhaustedError(StrCat("JSON output exceeds ", o_.max_bytes, " bytes"));
    }
    switch (v.kind()) {
      case Kind::kNone: out_ += "null"; return absl::OkStatus();
      case Kind::kBool: out_ += v.b() ? "true" : "false"; return absl::OkStatus();
      case Kind::kInt: out_ += std::to_string(v.i()); return absl::OkStatus();
      case Kind::kFloat: out_ += FloatText(v.d()); return absl::OkStatus();
      case Kind::kString: py::AppendJsonString(v.str(), o_.ensure_ascii, &out_); return absl::OkStatus();
      case Kind::kList:
      case Kind::kTuple: {
        const auto& items = v.list()->items;
        if (items.empty()) {
          out_ += "[]";
          return absl::OkStatus();
        }
        out_ += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out_ += item_sep_;
          Newline(level + 1);
          RETURN_IF_ERROR(Dump(items[i], level + 1));
        }
        Newline(level);
        out_ += ']';
        return absl::OkStatus();
      }
      case Kind::kDict: return DumpDict(*v.dict(), level);
      default: return NotSerializable(v);
    }
  }

  std::string& out() { return out_; }

 private:
  static std::string FloatText(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
    return py::FloatRepr(d);
  }

  void Newline(int level) {
    if (!o_.indent || out_.size() > o_.max_bytes) return;
    out_ += '\n';
    for (int i = 0; i < level; ++i) out_ += *o_.indent;
  }

  Status DumpDict(const DictObj& d, int level) {
    if (d.entries.empty()) {
      out_ += "{}";
      return absl::OkStatus();
    }
    std::vector<const std::pair<Value, Value>*> entries;
    entries.reserve(d.entries.size());
    for (const auto& e : d.entries) entries.push_back(&e);
    if (o_.sort_keys) {
      Status error;
      std::stable_sort(entries.begin(), entries.end(), [&](const auto* a, const auto* b) {
        auto lt = Less(a->first, b->first);
        if (!lt.ok()) {
          if (error.ok()) error = lt.status();
          return false;
        }
        return *lt;
      });
      RETURN_IF_ERROR(error);
    }
    out_ += '{';
    bool first = true;
    for (const auto* e : entries) {
      if (!first) out_ += item_sep_;
      first = false;
      Newline(level + 1);
      const Value& k = e->first;
      switch (k.kind()) {
        case Kind::kString: py::AppendJsonString(k.str(), o_.ensure_ascii, &out_); break;
        case Kind::kNone: out_ += "\"null\""; break;
        case Kind::kBool: out_ += k.b() ? "\"true\"" : "\"false\""; break;
        case Kind::kInt: out_ += StrCat("\"", k.i(), "\""); break;
        case Kind::kFloat: out_ += StrCat("\"", FloatText(k.d()), "\""); break;
        default:
          return InvalidArgument(
              StrCat("keys must be str, int, float, bool or None, not ", TypeName(k)));
      }
      out_ += key_sep_;
      RETURN_IF_ERROR(Dump(e->second, level + 1));
    }
    Newline(level);
    out_ += '}';
    return absl::OkStatus();
  }

  const DumpOptions& o_;
  std::string item_sep_, key_sep_;
  std::string out_;
};

}  // namespace

StatusOr<Value> FromJson(const nlohmann::json& j, Heap* heap, int max_depth) {
  return FromJsonAt(j, heap, 0, max_depth);
}
StatusOr<Value> FromJson(const nlohmann::ordered_json& j, Heap* heap, int max_depth) {
  return FromJsonAt(j, heap, 0, max_depth);
}

StatusOr<nlohmann::ordered_json> ToJson(const Value& v, int max_depth) {
  return ToJsonAt(v, 0, max_depth);
}

StatusOr<std::string> DumpJson(const Value& v, const DumpOptions& options) {
  Dumper d(options);
  RETURN_IF_ERROR(d.Dump(v, 0));
  if (d.out().size() > options.max_bytes) {
    return absl::ResourceExhaustedError(StrCat("JSON output exceeds ", options.max_bytes, " bytes"));
  }
  return std::move(d.out());
}

}  // namespace pagellm::jinja
