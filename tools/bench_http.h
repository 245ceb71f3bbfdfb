// The HTTP side of `pagellm bench serve`: an OpenAI-API streaming client on Boost.Beast. One
// io_context on the calling thread drives every connection (one per request, so a slow stream
// never holds up another); requests start on a Poisson/gamma schedule, at most
// max_concurrency at a time, and every read and write has an idle timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "tools/bench_metrics.h"

namespace pagellm::bench {

// "http://host[:port][/prefix]" (https is not supported).
struct BaseUrl {
  std::string host;
  std::string port = "80";
  std::string prefix;  // without the trailing '/'
};
StatusOr<BaseUrl> ParseBaseUrl(std::string_view url);

// Incremental Server-Sent Events parser: calls on_data with each event's data (data lines joined
// by '\n') once its blank line arrives; comments and other fields are ignored.
class SseParser {
 public:
  void Feed(std::string_view bytes, const std::function<void(std::string_view data)>& on_data);

 private:
  std::string line_;
  std::string data_;
  bool has_data_ = false;
};

// What one streamed completion chunk says.
struct StreamEvent {
  bool done = false;         // "[DONE]"
  bool has_content = false;  // a choice with non-empty text (completions) or delta.content (chat)
  bool finished = false;     // a choice with a finish_reason
  std::optional<int64_t> prompt_tokens, completion_tokens;  // from "usage"
  std::string error;         // an "error" object's message, or why the data is malformed
};
StreamEvent ParseStreamEvent(std::string_view data);

// The message of an OpenAI-style error body ({"error": {"message": ...}}), else the body itself
// (shortened).
std::string ErrorMessageFromBody(std::string_view body);

struct ClientOptions {
  BaseUrl base;
  std::string endpoint = "/v1/completions";
  std::string api_key;
  std::chrono::seconds timeout{300};  // the longest wait for any progress on a connection
  double request_rate = 0;            // requests/s; inf: all at once
  double burstiness = 1;
  int64_t max_concurrency = 0;        // 0: no limit
  uint64_t seed = 0;
};

struct StreamingRun {
  std::vector<RequestResult> results;  // in request order
  double duration = 0;                 // seconds from the first request to the last finishing
};

// Sends each body as a POST to base.prefix + endpoint and reads the SSE stream. A request that
// fails (connection, HTTP status, error event, timeout, a stream cut short: neither [DONE] nor a
// finish_reason before the response ended) is recorded with its reason. `planned_prompt_lens[i]` is the prompt length used when the server sends no usage.
// `progress` runs after each request with the number finished. An error only if the address can't
// be resolved.
StatusOr<StreamingRun> RunStreamingRequests(const ClientOptions& options, const std::vector<std::string>& bodies,
                                            std::span<const int64_t> planned_prompt_lens,
                                            const std::function<void(size_t)>& progress);

struct HttpResponse {
  int status = 0;
  std::string body;
};
// A GET (connection errors and timeouts are errors).
StatusOr<HttpResponse> HttpGet(const BaseUrl& base, std::string_view target, std::string_view api_key,
                               std::chrono::milliseconds timeout);

}  // namespace pagellm::bench
