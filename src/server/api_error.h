// ApiError: an error answer of the HTTP API in OpenAI's shape
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
#pragma once

#include <optional>
#include <string>

#include "src/base/status.h"

namespace pagellm::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::optional<std::string> param;
  std::optional<std::string> code;
  int retry_after_seconds = 0;  // > 0: send Retry-After

  std::string ToJson() const;
  // Maps an engine Status: InvalidArgument 400 (param = the message's first word when it names
  // one), NotFound 404, Unauthenticated 401, ResourceExhausted 429 + Retry-After,
  // Unavailable 503 + Retry-After, anything else 500.
  static ApiError FromStatus(const Status& status);
  static ApiError BadRequest(std::string message, std::optional<std::string> param = std::nullopt);
};

}  // namespace pagellm::server
