// ApiServer: routing, authentication, and the small endpoints (health, models, version, metrics,
// tokenize, detokenize).
#include "src/server/api_server.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "src/engine/chat_render.h"
#include "src/server/openai_request.h"
#include "src/server/openai_response.h"

namespace pagellm::server {
namespace {

std::array<uint8_t, 32> Sha256(std::string_view s) {
  std::array<uint8_t, 32> h{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), h.data());
  return h;
}

}  // namespace

ApiServer::ApiServer(ApiServerOptions options)
    : options_(std::move(options)), metrics_(std::make_unique<Metrics>(options_.served_model_name)) {
  if (!options_.api_key.empty()) api_key_hash_ = Sha256(options_.api_key);
}

ApiServer::~ApiServer() = default;

Status ApiServer::SetEngine(std::unique_ptr<EngineLoop> loop) {
  const Tokenizer* tok = loop->engine().tokenizer();
  const std::string source = !options_.chat_template.empty() ? options_.chat_template
                             : tok != nullptr                ? tok->chat_template()
                                                             : std::string();
  if (!source.empty()) {
    auto t = jinja::ChatTemplate::Parse(source);
    if (!t.ok()) return InvalidArgument(StrCat("the chat template does not parse: ", t.status().message()));
    chat_template_.emplace(std::move(*t));
  }
  Metrics* metrics = metrics_.get();
  loop->SetStepObserver([metrics](const EngineStats& s, const std::vector<RequestOutput>& o) { metrics->OnStep(s, o); });
  owned_loop_ = std::move(loop);
  loop_.store(owned_loop_.get());
  return absl::OkStatus();
}

bool ApiServer::Authorized(const http::Request& req) const {
  if (options_.api_key.empty()) return true;
  auto it = req.headers.find("authorization");
  if (it == req.headers.end()) return false;
  std::string_view v = it->second;
  constexpr std::string_view kBearer = "Bearer ";
  if (v.substr(0, kBearer.size()) != kBearer) return false;
  // Compare digests in constant time: neither the key's length nor its prefix leaks.
  const auto h = Sha256(v.substr(kBearer.size()));
  return CRYPTO_memcmp(h.data(), api_key_hash_.data(), h.size()) == 0;
}

bool ApiServer::ModelMatches(const std::string& name) const {
  return name.empty() || name == options_.served_model_name || name == options_.model_path;
}

void ApiServer::SendJson(http::ResponseWriter& w, int status, const std::string& body) {
  w.Send(status, {{"Content-Type", "application/json"}}, body);
}

void ApiServer::SendError(http::ResponseWriter& w, const ApiError& e) {
  metrics_->OnRejected(e.status);
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"}};
  if (e.retry_after_seconds > 0) headers.emplace_back("Retry-After", std::to_string(e.retry_after_seconds));
  if (e.status == 401) headers.emplace_back("WWW-Authenticate", "Bearer");
  w.Send(e.status, std::move(headers), e.ToJson());
}

void ApiServer::Handle(http::Request req, std::shared_ptr<http::ResponseWriter> w) {
  const std::string& path = req.path;
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  // Public endpoints.
  if (path == "/health" || path == "/ping") {
    EngineLoop* loop = loop_.load();
    if (loop == nullptr) return SendJson(*w, 503, R"({"status":"loading"})");
    if (!loop->alive()) return SendJson(*w, 503, R"({"status":"engine stopped"})");
    if (draining_.load()) return SendJson(*w, 503, R"({"status":"shutting down"})");
    return w->Send(200, {{"Content-Type", "application/json"}}, R"({"status":"ok"})");
  }
  if (path == "/metrics" && get) {
    return w->Send(200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}, metrics_->Render());
  }
  if (path == "/version" && get) return SendJson(*w, 200, R"({"version":"0.1.0"})");

  const bool known = path == "/v1/completions" || path == "/v1/chat/completions" || path == "/v1/models" ||
                     path == "/tokenize" || path == "/detokenize";
  if (!known) {
    ApiError e;
    e.status = 404;
    e.message = StrCat("Unknown route: ", req.method, " ", path);
    e.code = "not_found";
    return SendError(*w, e);
  }
  if (!Authorized(req)) {
    ApiError e;
    e.status = 401;
    e.type = "authentication_error";
    e.code = "invalid_api_key";
    e.message = "Missing or invalid API key: send 'Authorization: Bearer <key>'.";
    return SendError(*w, e);
  }
  const bool wants_post = path != "/v1/models";
  if ((wants_post && !post) || (!wants_post && !get)) {
    ApiError e;
    e.status = 405;
    e.message = StrCat("Method ", req.method, " is not allowed for ", path);
    return SendError(*w, e);
  }
  if (loop_.load() == nullptr) {
    ApiError e = ApiError::FromStatus(absl::UnavailableError("The model is still loading; retry shortly."));
    return SendError(*w, e);
  }
  if (path == "/v1/models") return Models(w);
  if (path == "/v1/completions") return Completions(req, w);
  if (path == "/v1/chat/completions") return ChatCompletions(req, w);
  if (path == "/tokenize") return Tokenize(req, w);
  return Detokenize(req, w);
}

void ApiServer::Models(std::shared_ptr<http::ResponseWriter> w) {
  const Engine& engine = loop()->engine();
  Json model = {{"id", options_.served_model_name},
                {"object", "model"},
                {"created", UnixSeconds()},
                {"owned_by", "pagellm"},
                {"root", options_.model_path},
                {"parent", nullptr},
                {"max_model_len", engine.max_model_len()}};
  SendJson(*w, 200, Dump(Json{{"object", "list"}, {"data", Json::array({model})}}));
}

void ApiServer::Tokenize(const http::Request& req, std::shared_ptr<http::ResponseWriter> w) {
  auto parsed = ParseJsonObject(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return SendError(*w, *e);
  const nlohmann::json& j = std::get<nlohmann::json>(parsed);
  const Engine& engine = loop()->engine();
  const Tokenizer* tok = engine.tokenizer();
  if (tok == nullptr) return SendError(*w, ApiError::BadRequest("This model has no tokenizer."));
  if (auto m = j.find("model"); m != j.end() && m->is_string() && !ModelMatches(m->get<std::string>())) {
    return SendError(*w, ApiError::FromStatus(NotFound(StrCat("The model `", m->get<std::string>(), "` does not exist."))));
  }
  std::string text;
  bool add_special = true;
  if (auto a = j.find("add_special_tokens"); a != j.end() && !a->is_null()) {
    if (!a->is_boolean()) return SendError(*w, ApiError::BadRequest("'add_special_tokens' must be a boolean.", "add_special_tokens"));
    add_special = a->get<bool>();
  }
  if (auto p = j.find("prompt"); p != j.end()) {
    if (!p->is_string()) return SendError(*w, ApiError::BadRequest("'prompt' must be a string.", "prompt"));
    text = p->get<std::string>();
  } else if (j.contains("messages")) {
    ChatRequest chat;
    auto c = ParseChatRequest(req.body);
    if (auto* e = std::get_if<ApiError>(&c)) return SendError(*w, *e);
    auto rendered = RenderChat(std::get<ChatRequest>(c));
    if (!rendered.ok()) return SendError(*w, ApiError::FromStatus(rendered.status()));
    text = *rendered;
    if (j.find("add_special_tokens") == j.end()) add_special = false;
  } else {
    return SendError(*w, ApiError::BadRequest("'prompt' or 'messages' is required.", "prompt"));
  }
  auto ids = tok->Encode(text, {.add_special = add_special, .parse_special = j.contains("messages")});
  if (!ids.ok()) return SendError(*w, ApiError::FromStatus(ids.status()));
  SendJson(*w, 200, Dump(Json{{"count", ids->size()}, {"max_model_len", engine.max_model_len()}, {"tokens", *ids}}));
}

void ApiServer::Detokenize(const http::Request& req, std::shared_ptr<http::ResponseWriter> w) {
  auto parsed = ParseJsonObject(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return SendError(*w, *e);
  const nlohmann::json& j = std::get<nlohmann::json>(parsed);
  const Tokenizer* tok = loop()->engine().tokenizer();
  if (tok == nullptr) return SendError(*w, ApiError::BadRequest("This model has no tokenizer."));
  auto t = j.find("tokens");
  if (t == j.end() || !t->is_array()) return SendError(*w, ApiError::BadRequest("'tokens' must be a list of token ids.", "tokens"));
  std::vector<TokenId> ids;
  for (const auto& x : *t) {
    if (!x.is_number_integer()) return SendError(*w, ApiError::BadRequest("'tokens' must be a list of token ids.", "tokens"));
    const int64_t id = x.get<int64_t>();
    if (id < 0 || id >= tok->vocab_size()) {
      return SendError(*w, ApiError::BadRequest(StrCat("token id ", id, " is outside the vocabulary [0, ", tok->vocab_size(), ")."), "tokens"));
    }
    ids.push_back(static_cast<TokenId>(id));
  }
  auto text = tok->Decode(ids);
  if (!text.ok()) return SendError(*w, ApiError::FromStatus(text.status()));
  SendJson(*w, 200, Dump(Json{{"prompt", *text}}));
}

StatusOr<std::string> ApiServer::RenderChat(const ChatRequest& req) const {
  if (!chat_template_) {
    return InvalidArgument(
        "This model has no chat template, so chat requests cannot be formatted; use /v1/completions "
        "or start the server with --chat-template FILE.");
  }
  ChatRenderOptions options;
  options.add_generation_prompt = req.add_generation_prompt;
  options.continue_final_message = req.continue_final_message;
  options.tools = req.tools;
  options.extra = req.chat_template_kwargs;
  return RenderChatPrompt(*chat_template_, req.messages, TemplateSpecialTokens(loop()->engine().tokenizer()), options);
}

}  // namespace pagellm::server
