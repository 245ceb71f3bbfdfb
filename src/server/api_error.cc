// ApiError: JSON rendering and Status mapping.
#include "src/server/api_error.h"

#include "nlohmann/json.hpp"

namespace pagellm::server {

std::string ApiError::ToJson() const {
  nlohmann::json e = {{"message", message}, {"type", type}};
  e["param"] = param ? nlohmann::json(*param) : nlohmann::json(nullptr);
  e["code"] = code ? nlohmann::json(*code) : nlohmann::json(nullptr);
  return nlohmann::json({{"error", e}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiError ApiError::BadRequest(std::string message, std::optional<std::string> param) {
  ApiError e;
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

ApiError ApiError::FromStatus(const Status& status) {
  ApiError e;
  e.message = std::string(status.message());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition: {
      e.status = 400;
      // SamplingParams messages start with the parameter's name ("top_p must be in (0, 1]").
      const auto space = e.message.find(' ');
      const std::string first = e.message.substr(0, space);
      bool is_name = !first.empty() && space != std::string::npos;
      for (char c : first) is_name &= (c >= 'a' && c <= 'z') || c == '_';
      if (is_name) e.param = first;
      break;
    }
    case absl::StatusCode::kNotFound:
      e.status = 404;
      e.code = "model_not_found";
      break;
    case absl::StatusCode::kUnauthenticated:
      e.status = 401;
      e.type = "authentication_error";
      e.code = "invalid_api_key";
      break;
    case absl::StatusCode::kResourceExhausted:
      e.status = 429;
      e.type = "rate_limit_error";
      e.retry_after_seconds = 1;
      break;
    case absl::StatusCode::kUnavailable:
      e.status = 503;
      e.type = "service_unavailable";
      e.retry_after_seconds = 5;
      break;
    default:
      e.status = 500;
      e.type = "server_error";
      break;
  }
  return e;
}

}  // namespace pagellm::server
