// LLM: submits every prompt to the engine loop and gathers final outputs with a progress bar.
#include "src/engine/llm.h"

#include "src/base/progress_bar.h"

namespace pagellm {

StatusOr<std::unique_ptr<LLM>> LLM::Create(const EngineConfig& config) {
  ASSIGN_OR_RETURN(auto engine, Engine::Create(config));
  return std::make_unique<LLM>(std::move(engine));
}

LLM::LLM(std::unique_ptr<Engine> engine) : loop_(std::make_unique<EngineLoop>(std::move(engine))) {}

LLM::~LLM() = default;

StatusOr<std::vector<TokenId>> LLM::Tokenize(const Prompt& prompt, bool add_special_tokens) const {
  if (const auto* ids = std::get_if<std::vector<TokenId>>(&prompt)) return *ids;
  const Tokenizer* tok = engine().tokenizer();
  if (tok == nullptr) return InvalidArgument("this engine has no tokenizer: pass token ids");
  return tok->Encode(std::get<std::string>(prompt),
                     {.add_special = add_special_tokens, .parse_special = false});
}

StatusOr<std::vector<RequestOutput>> LLM::Generate(const std::vector<Prompt>& prompts,
                                                   const std::vector<SamplingParams>& params,
                                                   const GenerateOptions& options) {
  if (params.size() != 1 && params.size() != prompts.size()) {
    return InvalidArgument(StrCat("got ", params.size(), " SamplingParams for ", prompts.size(),
                                  " prompts (pass one, or one per prompt)"));
  }
  std::vector<EngineRequest> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    EngineRequest req;
    req.request_id = StrCat("llm-", next_id_++);
    ASSIGN_OR_RETURN(req.prompt_token_ids, Tokenize(prompts[i], options.add_special_tokens));
    req.params = params.size() == 1 ? params[0] : params[i];
    requests.push_back(std::move(req));
  }
  auto submitted = loop_->SubmitBatch(std::move(requests));
  std::vector<std::shared_ptr<OutputStream>> streams;
  std::optional<Status> error;
  for (size_t i = 0; i < submitted.size(); ++i) {
    if (submitted[i].ok()) {
      streams.push_back(*submitted[i]);
    } else if (!error) {
      error = Status(submitted[i].status().code(), StrCat("prompt ", i, ": ", submitted[i].status().message()));
    }
  }
  auto abort_all = [&] {
    for (const auto& s : streams) loop_->Abort(s->request_id());
  };
  if (error) {
    abort_all();
    return *error;
  }
  std::vector<RequestOutput> results(prompts.size());
  std::optional<ProgressBar> bar;
  if (options.use_progress_bar) bar.emplace("Processed prompts", prompts.size(), "req");
  for (size_t i = 0; i < streams.size(); ++i) {
    while (auto o = streams[i]->Next()) {
      if (o->finished) results[i] = std::move(*o);
    }
    if (!streams[i]->status().ok()) {
      abort_all();
      return streams[i]->status();
    }
    if (bar) bar->Add(1);
  }
  return results;
}

}  // namespace pagellm
