// OpenAI-style JSON error bodies and HTTP reason phrases, shared by transport and API layer.
#pragma once

#include <string>
#include <string_view>

namespace pagellm::http {

// {"error": {"message": <message>, "type": <type>, "param": null, "code": <code or null>}}
// `type` defaults to "invalid_request_error" for 4xx and "server_error" for 5xx.
std::string JsonErrorBody(int status, std::string_view message, std::string_view code = {},
                          std::string_view type = {});

// `s` as a JSON string literal (quotes included); control characters escaped.
std::string JsonQuote(std::string_view s);

// "OK", "Not Found", ... ("Unknown" for codes without a registered phrase).
std::string_view ReasonPhrase(int status);

}  // namespace pagellm::http
