// Status -> Python exception: ValueError for bad arguments, FileNotFoundError for NotFound,
// RuntimeError for everything else (thrown as StatusError, translated once at module level).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <pybind11/pybind11.h>

#include "src/base/status.h"

namespace pagellm::python {

namespace py = pybind11;

class StatusError : public std::exception {
 public:
  explicit StatusError(Status status)
      : status_(std::move(status)), message_(status_.message()) {}
  const char* what() const noexcept override { return message_.c_str(); }
  const Status& status() const { return status_; }

 private:
  Status status_;
  std::string message_;
};

// Throws StatusError unless `status` is OK.
inline void ThrowIfError(const Status& status) {
  if (!status.ok()) throw StatusError(status);
}

template <typename T>
T ValueOrThrow(StatusOr<T> result) {
  if (!result.ok()) throw StatusError(result.status());
  return std::move(result).value();
}

// Installs the StatusError translator.
void RegisterStatusTranslator();

// UTF-8 bytes -> str; ill-formed sequences become U+FFFD (never raises).
py::str DecodeUtf8(std::string_view bytes);

}  // namespace pagellm::python
