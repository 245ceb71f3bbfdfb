// ApiServer: the OpenAI-compatible HTTP API over an EngineLoop — routing, auth, the completion and
// chat handlers (streaming and not), tokenize/detokenize, health, models, version and metrics.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "src/engine/engine_loop.h"
#include "src/jinja/chat_template.h"
#include "src/server/api_error.h"
#include "src/server/http/server.h"
#include "src/server/metrics.h"
#include "src/server/openai_request.h"

namespace pagellm::server {

struct ApiServerOptions {
  std::string served_model_name;      // what /v1/models lists and requests may name
  std::string model_path;             // also accepted as a model name
  std::string api_key;                // empty: no authentication
  std::string chat_template;          // template source overriding the model's (--chat-template)
};

class ApiServer {
 public:
  explicit ApiServer(ApiServerOptions options);
  ~ApiServer();

  // Makes the model available (before this, /health and the API answer 503). Fails if an
  // overriding chat template does not parse.
  Status SetEngine(std::unique_ptr<EngineLoop> loop);
  // /health answers 503 from now on (graceful shutdown); requests in flight continue.
  void SetDraining() { draining_.store(true); }
  EngineLoop* loop() const { return loop_.load(); }
  Metrics& metrics() { return *metrics_; }

  // The http::Handler: runs on a transport handler thread.
  void Handle(http::Request request, std::shared_ptr<http::ResponseWriter> writer);

 private:
  void Completions(const http::Request& req, std::shared_ptr<http::ResponseWriter> w);
  void ChatCompletions(const http::Request& req, std::shared_ptr<http::ResponseWriter> w);
  void Tokenize(const http::Request& req, std::shared_ptr<http::ResponseWriter> w);
  void Detokenize(const http::Request& req, std::shared_ptr<http::ResponseWriter> w);
  void Models(std::shared_ptr<http::ResponseWriter> w);

  bool Authorized(const http::Request& req) const;
  bool ModelMatches(const std::string& name) const;
  void SendError(http::ResponseWriter& w, const ApiError& e);
  void SendJson(http::ResponseWriter& w, int status, const std::string& body);
  // Renders a chat request's messages into prompt text with the model's (or the override) template.
  StatusOr<std::string> RenderChat(const ChatRequest& req) const;

  ApiServerOptions options_;
  std::atomic<EngineLoop*> loop_{nullptr};
  std::unique_ptr<EngineLoop> owned_loop_;
  std::optional<jinja::ChatTemplate> chat_template_;
  std::unique_ptr<Metrics> metrics_;
  std::atomic<bool> draining_{false};
  std::array<uint8_t, 32> api_key_hash_{};
};

}  // namespace pagellm::server
