// RequestOutput: what the engine reports for a request (vLLM's RequestOutput / CompletionOutput).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/base/types.h"
#include "src/sample/sampler.h"
#include "src/sched/request.h"

namespace pagellm {

struct CompletionOutput {
  int index = 0;
  std::string text;                  // all text so far (final text when finished)
  std::vector<TokenId> token_ids;    // all generated tokens so far
  std::string delta_text;            // new since the previous output of this request
  std::vector<TokenId> delta_token_ids;
  std::vector<PositionLogprobs> logprobs;  // per generated token, when requested
  size_t num_delta_logprobs = 0;           // the last entries of `logprobs` that are new
  std::optional<double> cumulative_logprob;
  FinishReason finish_reason = FinishReason::kNone;
  std::optional<std::string> stop_string;
  std::optional<TokenId> stop_token;
  bool finished() const { return finish_reason != FinishReason::kNone; }
};

struct RequestMetrics {
  double arrival_time = 0;        // seconds, steady clock
  double first_scheduled_time = 0;
  double first_token_time = 0;
  double last_token_time = 0;
  double finished_time = 0;
  int64_t num_prompt_tokens = 0;
  int64_t num_generation_tokens = 0;
  int64_t num_cached_tokens = 0;  // prompt tokens served from the prefix cache
  int64_t num_preemptions = 0;
  std::vector<double> inter_token_latencies;  // new since the previous output
};

struct RequestOutput {
  std::string request_id;
  std::vector<TokenId> prompt_token_ids;
  // One entry per prompt token (the first is always empty), when prompt_logprobs was asked for.
  std::vector<std::optional<PositionLogprobs>> prompt_logprobs;
  std::vector<CompletionOutput> outputs;
  bool finished = false;
  // Set on a final output when this request's own processing failed (e.g. its sampling threw):
  // the request was aborted alone and the others went on. Empty otherwise.
  std::string error;
  RequestMetrics metrics;
};

}  // namespace pagellm
