// Status and StatusOr (Abseil) plus the RETURN_IF_ERROR / ASSIGN_OR_RETURN helpers.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include <string>
#include <string_view>
#include <type_traits>

namespace pagellm {

namespace internal {
// Debian's Abseil has its own absl::string_view (not std::string_view); bridge the two.
template <typename T>
decltype(auto) AsAlphaNum(const T& v) {
  if constexpr (std::is_convertible_v<const T&, std::string_view> &&
                !std::is_convertible_v<const T&, absl::string_view>) {
    const std::string_view sv(v);
    return absl::string_view(sv.data(), sv.size());
  } else {
    return (v);
  }
}
}  // namespace internal

// StrCat that also takes std::string_view (use it instead of absl::StrCat).
template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(internal::AsAlphaNum(args)...);
}

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

using absl::Status;
using absl::StatusOr;

// Expected failures (bad file, bad request) carry a message naming the problem.
inline Status InvalidArgument(std::string_view msg) { return absl::InvalidArgumentError(ToAbsl(msg)); }
inline Status DataLoss(std::string_view msg) { return absl::DataLossError(ToAbsl(msg)); }
inline Status NotFound(std::string_view msg) { return absl::NotFoundError(ToAbsl(msg)); }
inline Status Unimplemented(std::string_view msg) { return absl::UnimplementedError(ToAbsl(msg)); }
inline Status Internal(std::string_view msg) { return absl::InternalError(ToAbsl(msg)); }

}  // namespace pagellm

#define PAGELLM_CONCAT_INNER_(a, b) a##b
#define PAGELLM_CONCAT_(a, b) PAGELLM_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status _pagellm_status = (expr);   \
    if (!_pagellm_status.ok()) return _pagellm_status; \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()

// ASSIGN_OR_RETURN(auto x, MakeX()); declares x or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(PAGELLM_CONCAT_(_pagellm_statusor_, __LINE__), lhs, expr)
