// OpenAI request parsing: field by field with strict types and parameter-named errors.
#include "src/server/openai_request.h"

#include <cmath>
#include <limits>

namespace pagellm::server {
namespace {

using Json = nlohmann::json;

// Field readers: absent or null keep the default. They return an error for a wrong type.
struct Reader {
  const Json& obj;
  std::optional<ApiError> error;

  const Json* Get(const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }
  void Fail(const char* key, const std::string& what) {
    if (!error) error = ApiError::BadRequest(StrCat("'", key, "' must be ", what, "."), key);
  }
  template <typename T>
  void Float(const char* key, T* out) {
    if (const Json* v = Get(key)) {
      if (!v->is_number()) return Fail(key, "a number");
      const double d = v->get<double>();
      if (!std::isfinite(d)) return Fail(key, "a finite number");
      *out = static_cast<T>(d);
    }
  }
  template <typename T>
  void Int(const char* key, T* out) {
    if (const Json* v = Get(key)) {
      if (!v->is_number_integer() && !(v->is_number_float() && IsWhole(v->get<double>()))) {
        return Fail(key, "an integer");
      }
      const double d = v->get<double>();
      if (d < static_cast<double>(std::numeric_limits<T>::min()) ||
          d > static_cast<double>(std::numeric_limits<T>::max())) {
        return Fail(key, StrCat("an integer in [", std::numeric_limits<T>::min(), ", ",
                                std::numeric_limits<T>::max(), "]"));
      }
      *out = v->is_number_unsigned() ? static_cast<T>(v->get<uint64_t>()) : static_cast<T>(v->get<int64_t>());
    }
  }
  template <typename T>
  void OptInt(const char* key, std::optional<T>* out) {
    if (Get(key)) {
      T x{};
      Int(key, &x);
      *out = x;
    }
  }
  void Bool(const char* key, bool* out) {
    if (const Json* v = Get(key)) {
      if (!v->is_boolean()) return Fail(key, "a boolean");
      *out = v->get<bool>();
    }
  }
  void String(const char* key, std::string* out) {
    if (const Json* v = Get(key)) {
      if (!v->is_string()) return Fail(key, "a string");
      *out = v->get<std::string>();
    }
  }
  static bool IsWhole(double d) { return std::isfinite(d) && std::floor(d) == d; }
};

void ReadSampling(Reader& r, SamplingParams* p) {
  r.Int("n", &p->n);
  r.OptInt("best_of", &p->best_of);
  r.Float("temperature", &p->temperature);
  r.Float("top_p", &p->top_p);
  r.Int("top_k", &p->top_k);
  r.Float("min_p", &p->min_p);
  r.Float("presence_penalty", &p->presence_penalty);
  r.Float("frequency_penalty", &p->frequency_penalty);
  r.Float("repetition_penalty", &p->repetition_penalty);
  if (const Json* v = r.Get("seed")) {
    if (!v->is_number_integer()) {
      r.Fail("seed", "an integer");
    } else {
      // Negative seeds are allowed by OpenAI's API; they map to distinct generator seeds.
      p->seed = v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
    }
  }
  r.Int("max_tokens", &p->max_tokens);
  r.Int("max_completion_tokens", &p->max_tokens);
  r.Int("min_tokens", &p->min_tokens);
  r.Bool("ignore_eos", &p->ignore_eos);
  r.Bool("skip_special_tokens", &p->skip_special_tokens);
  r.Bool("include_stop_str_in_output", &p->include_stop_str_in_output);
  r.Bool("use_beam_search", &p->use_beam_search);
  r.Float("length_penalty", &p->length_penalty);
  r.OptInt("prompt_logprobs", &p->prompt_logprobs);
  if (const Json* v = r.Get("stop")) {
    if (v->is_string()) {
      p->stop = {v->get<std::string>()};
    } else if (v->is_array()) {
      for (const Json& s : *v) {
        if (!s.is_string()) return r.Fail("stop", "a string or a list of strings");
        p->stop.push_back(s.get<std::string>());
      }
    } else {
      return r.Fail("stop", "a string or a list of strings");
    }
  }
  if (const Json* v = r.Get("stop_token_ids")) {
    if (!v->is_array()) return r.Fail("stop_token_ids", "a list of integers");
    for (const Json& t : *v) {
      if (!t.is_number_integer()) return r.Fail("stop_token_ids", "a list of integers");
      const int64_t id = t.get<int64_t>();
      if (id < 0 || id > std::numeric_limits<TokenId>::max()) {
        return r.Fail("stop_token_ids", "a list of token ids");
      }
      p->stop_token_ids.push_back(static_cast<TokenId>(id));
    }
  }
  if (const Json* v = r.Get("logit_bias")) {
    if (!v->is_object()) return r.Fail("logit_bias", "an object mapping token ids to biases");
    for (auto it = v->begin(); it != v->end(); ++it) {
      int64_t id = -1;
      const std::string& key = it.key();
      bool digits = !key.empty() && key.size() < 12;
      for (char c : key) digits &= c >= '0' && c <= '9';
      if (digits) id = std::stoll(key);
      if (!digits || id > std::numeric_limits<TokenId>::max()) {
        return r.Fail("logit_bias", "an object whose keys are token ids");
      }
      if (!it.value().is_number()) return r.Fail("logit_bias", "an object whose values are numbers");
      p->logit_bias.emplace_back(static_cast<TokenId>(id), it.value().get<float>());
    }
  }
}

void ReadStream(Reader& r, StreamOptions* s) {
  r.Bool("stream", &s->stream);
  if (const Json* v = r.Get("stream_options")) {
    if (!v->is_object()) return r.Fail("stream_options", "an object");
    Reader sub{*v, std::nullopt};
    sub.Bool("include_usage", &s->include_usage);
    sub.Bool("continuous_usage_stats", &s->continuous_usage_stats);
    if (sub.error) r.error = sub.error;
  }
}

std::variant<Json, ApiError> ParseObject(const std::string& body) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return ApiError::BadRequest("The request body is not valid JSON.");
  if (!j.is_object()) return ApiError::BadRequest("The request body must be a JSON object.");
  return j;
}

// A prompt: string, list of strings, list of token ids, or list of lists of token ids.
std::optional<ApiError> ReadPrompts(const Json& v, std::vector<PromptInput>* out) {
  auto ids = [](const Json& a, std::vector<TokenId>* dst) -> bool {
    for (const Json& t : a) {
      if (!t.is_number_integer()) return false;
      const int64_t id = t.get<int64_t>();
      if (id < std::numeric_limits<TokenId>::min() || id > std::numeric_limits<TokenId>::max()) return false;
      dst->push_back(static_cast<TokenId>(id));
    }
    return true;
  };
  const ApiError bad = ApiError::BadRequest(
      "'prompt' must be a string, a list of strings, a list of token ids or a list of lists of token ids.",
      "prompt");
  if (v.is_string()) {
    out->push_back(v.get<std::string>());
  } else if (v.is_array()) {
    if (v.empty()) return ApiError::BadRequest("'prompt' must not be empty.", "prompt");
    if (v[0].is_number()) {
      std::vector<TokenId> p;
      if (!ids(v, &p)) return bad;
      out->push_back(std::move(p));
    } else {
      for (const Json& e : v) {
        if (e.is_string()) {
          out->push_back(e.get<std::string>());
        } else if (e.is_array()) {
          std::vector<TokenId> p;
          if (!ids(e, &p)) return bad;
          out->push_back(std::move(p));
        } else {
          return bad;
        }
      }
    }
  } else {
    return bad;
  }
  return std::nullopt;
}

std::optional<ApiError> ValidateMessages(const Json& messages) {
  if (!messages.is_array() || messages.empty()) {
    return ApiError::BadRequest("'messages' must be a non-empty list of messages.", "messages");
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& m = messages[i];
    const std::string where = StrCat("messages[", i, "]");
    if (!m.is_object()) return ApiError::BadRequest(StrCat("'", where, "' must be an object."), "messages");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      return ApiError::BadRequest(StrCat("'", where, ".role' must be a string."), "messages");
    }
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      // Assistant messages with tool calls may have no content.
      if (role->get<std::string>() != "assistant") {
        return ApiError::BadRequest(StrCat("'", where, ".content' is required."), "messages");
      }
      continue;
    }
    if (content->is_string()) continue;
    if (!content->is_array()) {
      return ApiError::BadRequest(StrCat("'", where, ".content' must be a string or a list of content parts."),
                                  "messages");
    }
    for (const Json& part : *content) {
      auto type = part.is_object() ? part.find("type") : part.end();
      if (!part.is_object() || type == part.end() || !type->is_string()) {
        return ApiError::BadRequest(StrCat("'", where, ".content' parts must be objects with a 'type'."), "messages");
      }
      if (type->get<std::string>() != "text") {
        return ApiError::BadRequest(StrCat("content part type '", type->get<std::string>(),
                                           "' is not supported by this text-only model."), "messages");
      }
      auto text = part.find("text");
      if (text == part.end() || !text->is_string()) {
        return ApiError::BadRequest(StrCat("'", where, ".content' text parts need a string 'text'."), "messages");
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::variant<nlohmann::json, ApiError> ParseJsonObject(const std::string& body) { return ParseObject(body); }

std::variant<CompletionRequest, ApiError> ParseCompletionRequest(const std::string& body) {
  auto parsed = ParseObject(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const Json& j = std::get<Json>(parsed);
  CompletionRequest req;
  Reader r{j, std::nullopt};
  r.String("model", &req.model);
  const Json* prompt = r.Get("prompt");
  if (prompt == nullptr) return ApiError::BadRequest("'prompt' is required.", "prompt");
  if (auto e = ReadPrompts(*prompt, &req.prompts)) return *e;
  ReadSampling(r, &req.params);
  ReadStream(r, &req.stream);
  r.Bool("echo", &req.echo);
  r.Bool("add_special_tokens", &req.add_special_tokens);
  r.Int("priority", &req.priority);
  r.String("cache_salt", &req.cache_salt);
  if (const Json* v = r.Get("logprobs")) {
    if (!v->is_number_integer()) {
      r.Fail("logprobs", "an integer");
    } else {
      int k = 0;
      r.Int("logprobs", &k);
      req.params.logprobs = k;
    }
  }
  if (const Json* v = r.Get("suffix"); v != nullptr && !(v->is_string() && v->get<std::string>().empty())) {
    return ApiError::BadRequest("'suffix' is not supported.", "suffix");
  }
  if (r.error) return *r.error;
  return req;
}

std::variant<ChatRequest, ApiError> ParseChatRequest(const std::string& body) {
  auto parsed = ParseObject(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const Json& j = std::get<Json>(parsed);
  ChatRequest req;
  Reader r{j, std::nullopt};
  r.String("model", &req.model);
  const Json* messages = r.Get("messages");
  if (messages == nullptr) return ApiError::BadRequest("'messages' is required.", "messages");
  if (auto e = ValidateMessages(*messages)) return *e;
  // Keep key order for templates (tool schemas print with |tojson in insertion order).
  req.messages = nlohmann::ordered_json::parse(messages->dump());
  ReadSampling(r, &req.params);
  req.max_tokens_given = r.Get("max_tokens") != nullptr || r.Get("max_completion_tokens") != nullptr;
  ReadStream(r, &req.stream);
  r.Bool("logprobs", &req.logprobs);
  std::optional<int> top;
  r.OptInt("top_logprobs", &top);
  if (top && !req.logprobs) {
    return ApiError::BadRequest("'top_logprobs' needs 'logprobs' set to true.", "top_logprobs");
  }
  if (req.logprobs) req.params.logprobs = top.value_or(0);
  r.Bool("add_generation_prompt", &req.add_generation_prompt);
  r.Bool("continue_final_message", &req.continue_final_message);
  r.Bool("echo", &req.echo);
  r.Bool("add_special_tokens", &req.add_special_tokens);
  r.Int("priority", &req.priority);
  r.String("cache_salt", &req.cache_salt);
  if (req.continue_final_message && req.add_generation_prompt && r.Get("add_generation_prompt") != nullptr) {
    return ApiError::BadRequest("'continue_final_message' and 'add_generation_prompt' cannot both be true.",
                                "continue_final_message");
  }
  if (req.continue_final_message) req.add_generation_prompt = false;
  if (const Json* v = r.Get("tools")) {
    if (!v->is_array()) return ApiError::BadRequest("'tools' must be a list.", "tools");
    req.tools = nlohmann::ordered_json::parse(v->dump());
  }
  if (const Json* v = r.Get("chat_template_kwargs")) {
    if (!v->is_object()) return ApiError::BadRequest("'chat_template_kwargs' must be an object.", "chat_template_kwargs");
    req.chat_template_kwargs = nlohmann::ordered_json::parse(v->dump());
  }
  if (r.error) return *r.error;
  return req;
}

}  // namespace pagellm::server
