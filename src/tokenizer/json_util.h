// Typed, exception-free accessors for nlohmann::json values read from tokenizer files.
//
// Every getter returns InvalidArgument naming the field (`where`) on a wrong type, so a malformed
// tokenizer.json yields a message like "tokenizer.json: model.byte_fallback must be a boolean".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"
#include "src/base/status.h"

namespace pagellm::tokenizer {

using Json = nlohmann::json;

inline Status JsonError(std::string_view where, std::string_view what) {
  return InvalidArgument(StrCat(where, " ", what));
}

// The member `key` of object `obj`, or nullptr if absent (or `obj` is not an object).
inline const Json* JsonFind(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(std::string(key));
  return it == obj.end() ? nullptr : &*it;
}

inline StatusOr<std::string> JsonString(const Json& v, std::string_view where) {
  if (!v.is_string()) return JsonError(where, "must be a string");
  return v.get_ref<const std::string&>();
}

inline StatusOr<bool> JsonBool(const Json& v, std::string_view where) {
  if (!v.is_boolean()) return JsonError(where, "must be a boolean");
  return v.get<bool>();
}

inline StatusOr<int64_t> JsonInt(const Json& v, std::string_view where) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return JsonError(where, "is out of range");
    }
    return v.get<int64_t>();
  }
  return JsonError(where, "must be an integer");
}

// Optional members: `def` when absent or null; an error when present with the wrong type.
inline StatusOr<bool> JsonBoolOr(const Json& obj, std::string_view key, bool def,
                                 std::string_view where) {
  const Json* v = JsonFind(obj, key);
  if (v == nullptr || v->is_null()) return def;
  return JsonBool(*v, StrCat(where, ".", key));
}

inline StatusOr<std::string> JsonStringOr(const Json& obj, std::string_view key,
                                          std::string_view def, std::string_view where) {
  const Json* v = JsonFind(obj, key);
  if (v == nullptr || v->is_null()) return std::string(def);
  return JsonString(*v, StrCat(where, ".", key));
}

inline StatusOr<int64_t> JsonIntOr(const Json& obj, std::string_view key, int64_t def,
                                   std::string_view where) {
  const Json* v = JsonFind(obj, key);
  if (v == nullptr || v->is_null()) return def;
  return JsonInt(*v, StrCat(where, ".", key));
}

// The "type" member of a component object, required.
inline StatusOr<std::string> JsonType(const Json& obj, std::string_view where) {
  if (!obj.is_object()) return JsonError(where, "must be an object");
  const Json* t = JsonFind(obj, "type");
  if (t == nullptr) return JsonError(where, "has no \"type\"");
  return JsonString(*t, StrCat(where, ".type"));
}

// Parses JSON text without throwing; `what` names the document in the error.
inline StatusOr<Json> ParseJson(std::string_view text, std::string_view what) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(StrCat(what, ": not valid JSON"));
  return j;
}

}  // namespace pagellm::tokenizer
