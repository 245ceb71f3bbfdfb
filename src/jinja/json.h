// Conversion between nlohmann JSON and Jinja Values, and Python json.dumps (HF's tojson filter).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "nlohmann/json.hpp"
#include "src/base/status.h"
#include "src/jinja/value.h"

namespace pagellm::jinja {

// JSON -> Value. Objects become insertion-ordered dicts in the JSON type's own key order (so
// nlohmann::ordered_json keeps the document's order, as Python's json.loads does; nlohmann::json
// sorts keys). Integers above INT64_MAX become floats. Nesting deeper than max_depth is an error.
StatusOr<Value> FromJson(const nlohmann::json& j, Heap* heap, int max_depth = 512);
StatusOr<Value> FromJson(const nlohmann::ordered_json& j, Heap* heap, int max_depth = 512);

// Value -> JSON (undefined, namespaces, callables and non-string-convertible keys are errors).
StatusOr<nlohmann::ordered_json> ToJson(const Value& v, int max_depth = 512);

// Python json.dumps(v, ensure_ascii, indent, separators, sort_keys). Errors as Python's
// ("Object of type Undefined is not JSON serializable", ...).
struct DumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // the per-level indent string; nullopt = single line
  std::optional<std::string> item_separator;  // default ", " (or "," with indent)
  std::optional<std::string> key_separator;   // default ": "
  bool sort_keys = false;
  size_t max_bytes = SIZE_MAX;  // fail instead of building a larger result
};
StatusOr<std::string> DumpJson(const Value& v, const DumpOptions& options);

}  // namespace pagellm::jinja
