// LLM: the offline API (vLLM's LLM class): load once, generate for a list of prompts.
//
//   auto llm = LLM::Create(EngineConfig{.model = "path/to/model"});
//   auto outputs = (*llm)->Generate({"Once upon a time"}, params);
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "src/base/status.h"
#include "src/engine/engine_loop.h"

namespace pagellm {

// A prompt is text (tokenized with BOS as the tokenizer's config says) or token ids.
using Prompt = std::variant<std::string, std::vector<TokenId>>;

struct GenerateOptions {
  bool use_progress_bar = true;  // drawn only on a terminal
  bool add_special_tokens = true;
};

class LLM {
 public:
  static StatusOr<std::unique_ptr<LLM>> Create(const EngineConfig& config);
  // Wraps an engine built elsewhere (tests with random models).
  explicit LLM(std::unique_ptr<Engine> engine);
  ~LLM();

  // Generates for every prompt (all submitted at once, batched by the engine) and returns the
  // outputs in prompt order. `params` holds one entry for all prompts or one per prompt.
  StatusOr<std::vector<RequestOutput>> Generate(const std::vector<Prompt>& prompts,
                                                const std::vector<SamplingParams>& params,
                                                const GenerateOptions& options = {});

  // Tokenizes like Generate does.
  StatusOr<std::vector<TokenId>> Tokenize(const Prompt& prompt, bool add_special_tokens = true) const;

  EngineLoop& loop() { return *loop_; }
  const Engine& engine() const { return loop_->engine(); }

 private:
  std::unique_ptr<EngineLoop> loop_;
  uint64_t next_id_ = 0;
};

}  // namespace pagellm
