// ApiServer's generation endpoints: /v1/completions and /v1/chat/completions. One HTTP request
// fans out to one engine request per prompt; a GenerationJob gathers their outputs (on the engine
// thread) into stream chunks or one final response.
#include <mutex>

#include "src/server/api_server.h"
#include "src/server/openai_request.h"
#include "src/server/openai_response.h"

namespace pagellm::server {
namespace {

struct PromptInfo {
  std::vector<TokenId> ids;
  std::string text;  // for echo
};

class GenerationJob {
 public:
  enum class Kind { kCompletion, kChat };

  GenerationJob(Kind kind, const Tokenizer* tok, std::shared_ptr<http::ResponseWriter> w, std::string model,
                StreamOptions stream, int n, bool echo, bool logprobs, std::vector<PromptInfo> prompts)
      : kind_(kind),
        tok_(tok),
        w_(std::move(w)),
        id_(NewRequestId(kind == Kind::kChat ? "chatcmpl" : "cmpl")),
        model_(std::move(model)),
        created_(UnixSeconds()),
        stream_(stream),
        n_(n),
        echo_(echo),
        logprobs_(logprobs),
        prompts_(std::move(prompts)),
        finals_(prompts_.size()),
        remaining_(prompts_.size()),
        choice_started_(prompts_.size() * static_cast<size_t>(n), false),
        choice_finished_(prompts_.size() * static_cast<size_t>(n), false) {}

  const std::string& id() const { return id_; }
  std::string EngineId(size_t i) const { return StrCat(id_, "-", i); }

  // All engine requests are accepted: the response may begin.
  void Start() {
    std::lock_guard lock(mu_);
    started_ = true;
    if (stream_.stream) {
      w_->StartStream(200, {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}});
      for (auto& e : pending_) w_->Write(std::move(e));
      pending_.clear();
    }
    MaybeFinishLocked();
  }

  // Engine thread.
  void OnOutput(size_t prompt, StatusOr<RequestOutput> o) {
    std::lock_guard lock(mu_);
    if (!o.ok()) {
      if (!error_) error_ = o.status();
      if (remaining_ > 0) --remaining_;
      MaybeFinishLocked();
      return;
    }
    if (stream_.stream) EmitChunksLocked(prompt, *o);
    if (o->finished) {
      finals_[prompt] = std::move(*o);
      --remaining_;
      MaybeFinishLocked();
    }
  }

 private:
  void Emit(std::string event) {
    if (started_) {
      w_->Write(std::move(event));
    } else {
      pending_.push_back(std::move(event));
    }
  }

  Json ChunkBase() const {
    return Json{{"id", id_},
                {"object", kind_ == Kind::kChat ? "chat.completion.chunk" : "text_completion"},
                {"created", created_},
                {"model", model_}};
  }

  void EmitChunksLocked(size_t prompt, const RequestOutput& o) {
    for (const CompletionOutput& c : o.outputs) {
      const size_t index = prompt * static_cast<size_t>(n_) + static_cast<size_t>(c.index);
      // The engine reports every sequence of a request each step, also those already finished
      // (n > 1): a finished choice has had its last chunk.
      if (choice_finished_[index]) continue;
      if (c.finished()) choice_finished_[index] = true;
      const bool first = !choice_started_[index];
      choice_started_[index] = true;
      Json choice = {{"index", index}};
      if (kind_ == Kind::kChat) {
        if (first) {
          Json role = ChunkBase();
          role["choices"] = Json::array({Json{{"index", index},
                                              {"delta", Json{{"role", "assistant"}, {"content", ""}}},
                                              {"logprobs", nullptr},
                                              {"finish_reason", nullptr}}});
          Emit(SseEvent(role));
        }
        std::string text = c.delta_text;
        if (first && echo_) text = prompts_[prompt].text + text;
        if (text.empty() && c.num_delta_logprobs == 0 && !c.finished()) continue;
        choice["delta"] = !text.empty() || c.num_delta_logprobs > 0 ? Json{{"content", text}} : Json::object();
        choice["logprobs"] = logprobs_ && c.num_delta_logprobs > 0
                                 ? ChatLogprobsJson(*tok_, c.logprobs, c.logprobs.size() - c.num_delta_logprobs, c.num_delta_logprobs)
                                 : Json(nullptr);
      } else {
        std::string text = c.delta_text;
        if (first && echo_) text = prompts_[prompt].text + text;
        if (text.empty() && c.num_delta_logprobs == 0 && !c.finished()) continue;
        choice["text"] = text;
        choice["logprobs"] = logprobs_ ? CompletionLogprobsJson(*tok_, OutputLogprobEntries(c.logprobs,
                                                                     c.logprobs.size() - c.num_delta_logprobs,
                                                                     c.num_delta_logprobs), 0)
                                       : Json(nullptr);
      }
      choice["finish_reason"] = FinishReasonJson(c);
      if (c.finished()) choice["stop_reason"] = StopReasonJson(c);
      Json chunk = ChunkBase();
      chunk["choices"] = Json::array({choice});
      if (stream_.include_usage && stream_.continuous_usage_stats) {
        chunk["usage"] = UsageJson(static_cast<int64_t>(prompts_[prompt].ids.size()), static_cast<int64_t>(c.token_ids.size()));
      }
      Emit(SseEvent(chunk));
    }
  }

  void MaybeFinishLocked() {
    if (!started_ || remaining_ > 0 || done_) return;
    done_ = true;
    if (error_) {
      ApiError e = ApiError::FromStatus(*error_);
      if (e.status < 500) e = ApiError::FromStatus(absl::UnavailableError(error_->message()));
      if (stream_.stream) {
        w_->Write(StrCat("data: ", e.ToJson(), "\n\n"));
        w_->Write(kSseDone);
        w_->End();
      } else {
        std::vector<std::pair<std::string, std::string>> h = {{"Content-Type", "application/json"}};
        if (e.retry_after_seconds > 0) h.emplace_back("Retry-After", std::to_string(e.retry_after_seconds));
        w_->Send(e.status, std::move(h), e.ToJson());
      }
      return;
    }
    int64_t prompt_tokens = 0, completion_tokens = 0;
    for (size_t p = 0; p < finals_.size(); ++p) {
      prompt_tokens += static_cast<int64_t>(prompts_[p].ids.size());
      for (const auto& c : finals_[p]->outputs) completion_tokens += static_cast<int64_t>(c.token_ids.size());
    }
    if (stream_.stream) {
      if (stream_.include_usage) {
        Json chunk = ChunkBase();
        chunk["choices"] = Json::array();
        chunk["usage"] = UsageJson(prompt_tokens, completion_tokens);
        w_->Write(SseEvent(chunk));
      }
      w_->Write(kSseDone);
      w_->End();
      return;
    }
    Json choices = Json::array();
    for (size_t p = 0; p < finals_.size(); ++p) {
      for (const CompletionOutput& c : finals_[p]->outputs) {
        const size_t index = p * static_cast<size_t>(n_) + static_cast<size_t>(c.index);
        Json choice = {{"index", index}};
        if (kind_ == Kind::kChat) {
          choice["message"] = Json{{"role", "assistant"}, {"content", echo_ ? prompts_[p].text + c.text : c.text}};
          choice["logprobs"] = logprobs_ ? ChatLogprobsJson(*tok_, c.logprobs, 0, c.logprobs.size()) : Json(nullptr);
        } else {
          choice["text"] = echo_ ? prompts_[p].text + c.text : c.text;
          if (logprobs_) {
            std::vector<LogprobEntry> entries;
            if (echo_) entries = PromptEntries(p, *finals_[p]);
            auto out = OutputLogprobEntries(c.logprobs, 0, c.logprobs.size());
            entries.insert(entries.end(), out.begin(), out.end());
            choice["logprobs"] = CompletionLogprobsJson(*tok_, entries, 0);
          } else {
            choice["logprobs"] = nullptr;
          }
        }
        choice["finish_reason"] = FinishReasonJson(c);
        choice["stop_reason"] = StopReasonJson(c);
        choices.push_back(std::move(choice));
      }
    }
    Json body = {{"id", id_},
                 {"object", kind_ == Kind::kChat ? "chat.completion" : "text_completion"},
                 {"created", created_},
                 {"model", model_},
                 {"choices", choices},
                 {"usage", UsageJson(prompt_tokens, completion_tokens)}};
    w_->Send(200, {{"Content-Type", "application/json"}}, Dump(body));
  }

  std::vector<LogprobEntry> PromptEntries(size_t p, const RequestOutput& o) const {
    std::vector<LogprobEntry> entries;
    const auto& ids = prompts_[p].ids;
    for (size_t i = 0; i < ids.size(); ++i) {
      LogprobEntry e{ids[i], std::nullopt, {}};
      if (i < o.prompt_logprobs.size() && o.prompt_logprobs[i]) {
        e.logprob = o.prompt_logprobs[i]->chosen.logprob;
        e.top = o.prompt_logprobs[i]->top;
      }
      entries.push_back(std::move(e));
    }
    return entries;
  }

  const Kind kind_;
  const Tokenizer* tok_;
  std::shared_ptr<http::ResponseWriter> w_;
  const std::string id_;
  const std::string model_;
  const int64_t created_;
  const StreamOptions stream_;
  const int n_;
  const bool echo_;
  const bool logprobs_;
  const std::vector<PromptInfo> prompts_;

  std::mutex mu_;
  bool started_ = false;
  bool done_ = false;
  std::vector<std::string> pending_;
  std::vector<std::optional<RequestOutput>> finals_;
  size_t remaining_;
  std::vector<bool> choice_started_;
  std::vector<bool> choice_finished_;
  std::optional<Status> error_;
};

}  // namespace

// Submits one engine request per prompt for `job`; on a refusal aborts the ones already accepted.
static Status SubmitAll(EngineLoop& loop, const std::shared_ptr<GenerationJob>& job,
                        const std::vector<PromptInfo>& prompts, const SamplingParams& params, bool stream,
                        int priority, const std::string& cache_salt) {
  std::vector<std::pair<EngineRequest, OutputCallback>> batch;
  for (size_t i = 0; i < prompts.size(); ++i) {
    EngineRequest er;
    er.request_id = job->EngineId(i);
    er.prompt_token_ids = prompts[i].ids;
    er.params = params;
    er.stream = stream;
    er.priority = priority;
    er.cache_salt = cache_salt;
    batch.emplace_back(std::move(er), [job, i](StatusOr<RequestOutput> o) { job->OnOutput(i, std::move(o)); });
  }
  std::vector<Status> statuses = loop.SubmitBatch(std::move(batch));
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (statuses[i].ok()) continue;
    for (size_t k = 0; k < statuses.size(); ++k) {
      if (statuses[k].ok()) loop.Abort(job->EngineId(k));
    }
    if (prompts.size() > 1 && statuses[i].code() == absl::StatusCode::kInvalidArgument) {
      return Status(statuses[i].code(), StrCat(statuses[i].message(), " (prompt ", i, ")"));
    }
    return statuses[i];
  }
  return absl::OkStatus();
}

void ApiServer::Completions(const http::Request& hreq, std::shared_ptr<http::ResponseWriter> w) {
  auto parsed = ParseCompletionRequest(hreq.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return SendError(*w, *e);
  CompletionRequest req = std::move(std::get<CompletionRequest>(parsed));
  if (!ModelMatches(req.model)) {
    return SendError(*w, ApiError::FromStatus(NotFound(StrCat("The model `", req.model, "` does not exist."))));
  }
  EngineLoop& loop = *this->loop();
  const Tokenizer* tok = loop.engine().tokenizer();
  std::vector<PromptInfo> prompts;
  for (const PromptInput& p : req.prompts) {
    PromptInfo info;
    if (const auto* text = std::get_if<std::string>(&p)) {
      if (tok == nullptr) return SendError(*w, ApiError::BadRequest("This model has no tokenizer: send token ids.", "prompt"));
      auto ids = tok->Encode(*text, {.add_special = req.add_special_tokens, .parse_special = false});
      if (!ids.ok()) return SendError(*w, ApiError::FromStatus(ids.status()));
      info.ids = std::move(*ids);
      info.text = *text;
    } else {
      info.ids = std::get<std::vector<TokenId>>(p);
      if (req.echo && tok != nullptr) {
        for (TokenId t : info.ids) {
          if (t < 0 || t >= tok->vocab_size()) {
            return SendError(*w, ApiError::BadRequest(StrCat("prompt token id ", t, " is outside the vocabulary [0, ",
                                                              tok->vocab_size(), ")."), "prompt"));
          }
        }
        info.text = tok->Decode(info.ids).value_or("");
      }
    }
    if (info.ids.empty()) return SendError(*w, ApiError::BadRequest("The prompt is empty: at least one token is needed.", "prompt"));
    prompts.push_back(std::move(info));
  }
  if (req.echo && req.params.logprobs) req.params.prompt_logprobs = *req.params.logprobs;
  if (req.params.use_beam_search && req.stream.stream) {
    return SendError(*w, ApiError::BadRequest("Streaming is not supported with beam search.", "stream"));
  }
  auto job = std::make_shared<GenerationJob>(GenerationJob::Kind::kCompletion, tok, w,
                                             req.model.empty() ? options_.served_model_name : req.model, req.stream,
                                             req.params.n, req.echo, req.params.logprobs.has_value(), prompts);
  Status s = SubmitAll(loop, job, prompts, req.params, req.stream.stream, req.priority, req.cache_salt);
  if (!s.ok()) return SendError(*w, ApiError::FromStatus(s));
  const size_t count = prompts.size();
  w->OnDisconnect([&loop, job, count] {
    for (size_t i = 0; i < count; ++i) loop.Abort(job->EngineId(i));
  });
  job->Start();
}

void ApiServer::ChatCompletions(const http::Request& hreq, std::shared_ptr<http::ResponseWriter> w) {
  auto parsed = ParseChatRequest(hreq.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return SendError(*w, *e);
  ChatRequest req = std::move(std::get<ChatRequest>(parsed));
  if (!ModelMatches(req.model)) {
    return SendError(*w, ApiError::FromStatus(NotFound(StrCat("The model `", req.model, "` does not exist."))));
  }
  EngineLoop& loop = *this->loop();
  const Tokenizer* tok = loop.engine().tokenizer();
  if (tok == nullptr) return SendError(*w, ApiError::BadRequest("This model has no tokenizer."));
  auto prompt = RenderChat(req);
  if (!prompt.ok()) return SendError(*w, ApiError::FromStatus(prompt.status()));
  // The template writes the special tokens: they are tokens, not text.
  auto ids = tok->Encode(*prompt, {.add_special = req.add_special_tokens, .parse_special = true});
  if (!ids.ok()) return SendError(*w, ApiError::FromStatus(ids.status()));
  if (ids->empty()) return SendError(*w, ApiError::BadRequest("The rendered prompt is empty.", "messages"));
  if (!req.max_tokens_given) {
    req.params.max_tokens = static_cast<int>(std::max<int64_t>(1, loop.engine().max_model_len() - static_cast<int64_t>(ids->size())));
  }
  if (req.params.use_beam_search && req.stream.stream) {
    return SendError(*w, ApiError::BadRequest("Streaming is not supported with beam search.", "stream"));
  }
  // echo (vLLM): the answer starts with the final message's content when it is the assistant's.
  std::string echo_text;
  const Json& last = req.messages.back();
  if (req.echo && last.value("role", "") == "assistant" && last.contains("content") && last["content"].is_string()) {
    echo_text = last["content"].get<std::string>();
  }
  std::vector<PromptInfo> prompts = {{std::move(*ids), echo_text}};
  auto job = std::make_shared<GenerationJob>(GenerationJob::Kind::kChat, tok, w,
                                             req.model.empty() ? options_.served_model_name : req.model, req.stream,
                                             req.params.n, !echo_text.empty(), req.logprobs, prompts);
  Status s = SubmitAll(loop, job, prompts, req.params, req.stream.stream, req.priority, req.cache_salt);
  if (!s.ok()) return SendError(*w, ApiError::FromStatus(s));
  w->OnDisconnect([&loop, job] { loop.Abort(job->EngineId(0)); });
  job->Start();
}

}  // namespace pagellm::server
