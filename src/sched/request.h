// Request and Sequence: the scheduler's units of work and their state (vLLM V1's Request, with
// sequences for n > 1 / best_of / beams that share the request's prompt blocks).
//
// A sequence's tokens are prompt + output; num_computed_tokens of them have KV stored. Each step
// moves num_computed_tokens toward tokens.size(); when it reaches the end, the step samples one
// more token. There is no separate prefill or decode phase.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/base/types.h"
#include "src/sample/sampler.h"
#include "src/sample/sampling_params.h"

namespace pagellm {

enum class FinishReason : uint8_t { kNone, kStop, kLength, kAbort };
std::string_view FinishReasonName(FinishReason r);  // "stop" | "length" | "abort" | ""

enum class RequestState : uint8_t { kWaiting, kRunning, kFinished };

struct Sequence {
  SeqId id = 0;
  int index = 0;                    // 0..num_generated-1 within its request
  std::vector<TokenId> tokens;      // prompt + output
  int64_t num_prompt_tokens = 0;
  int64_t num_computed_tokens = 0;  // tokens whose K/V is in the cache
  SamplerRng rng;
  double cumulative_logprob = 0.0;
  std::vector<PositionLogprobs> logprobs;  // one per output token when requested
  FinishReason finish_reason = FinishReason::kNone;
  std::optional<std::string> stop_string;  // the stop string that ended it
  std::optional<TokenId> stop_token;       // the stop_token_ids entry that ended it

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
  std::span<const TokenId> prompt() const { return {tokens.data(), static_cast<size_t>(num_prompt_tokens)}; }
  std::span<const TokenId> output() const {
    return {tokens.data() + num_prompt_tokens, static_cast<size_t>(num_output_tokens())};
  }
  bool finished() const { return finish_reason != FinishReason::kNone; }
};

struct Request {
  std::string request_id;
  uint64_t arrival = 0;  // admission order (FCFS tie-break)
  int priority = 0;      // lower runs first (with the priority policy)
  SamplingParams params;
  std::string cache_salt;
  std::vector<TokenId> prompt;
  std::vector<std::unique_ptr<Sequence>> seqs;  // 1 until the prompt is done, then num_generated
  RequestState state = RequestState::kWaiting;
  int64_t num_preemptions = 0;
  int64_t num_cached_prompt_tokens = 0;  // prefix-cache hit on first admission

  bool AllFinished() const {
    for (const auto& s : seqs) {
      if (!s->finished()) return false;
    }
    return true;
  }
};

}  // namespace pagellm
