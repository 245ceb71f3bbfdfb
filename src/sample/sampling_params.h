// SamplingParams: how one request turns logits into tokens and when it stops (vLLM's names).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "src/base/status.h"
#include "src/base/types.h"

namespace pagellm {

// Bounds that protect the engine from hostile requests; the server exposes them as flags.
struct SamplingLimits {
  int max_n = 128;                  // n and best_of
  int max_logprobs = 20;            // logprobs and prompt_logprobs
  int max_stop_strings = 64;
  int max_stop_string_bytes = 256;
  int max_stop_token_ids = 256;
  int max_logit_bias_entries = 1024;
  int max_beam_width = 32;
};

struct SamplingParams {
  int n = 1;                         // sequences returned
  std::optional<int> best_of;        // sequences generated (>= n); the n best are returned
  float temperature = 1.0f;          // 0: greedy
  float top_p = 1.0f;                // (0, 1]
  int top_k = 0;                     // 0 or -1: disabled
  float min_p = 0.0f;                // [0, 1]
  float presence_penalty = 0.0f;     // [-2, 2]
  float frequency_penalty = 0.0f;    // [-2, 2]
  float repetition_penalty = 1.0f;   // > 0; 1 disables
  std::vector<std::pair<TokenId, float>> logit_bias;  // added to the logits, each in [-100, 100]
  std::optional<uint64_t> seed;      // per-request generator seed (reproducible)
  int max_tokens = 16;               // generated tokens at most
  int min_tokens = 0;                // EOS / stop tokens are suppressed before this many
  std::vector<std::string> stop;     // stop strings, matched on detokenized text
  std::vector<TokenId> stop_token_ids;
  bool ignore_eos = false;
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;
  std::optional<int> logprobs;       // top-k logprobs per generated token (0: only the chosen one)
  std::optional<int> prompt_logprobs;
  bool use_beam_search = false;      // beam width = best_of if set, else n
  float length_penalty = 1.0f;       // beam search: score = logprob_sum / length^length_penalty

  bool greedy() const { return temperature < kGreedyTemperature; }
  int num_generated() const { return best_of.value_or(n); }

  // Checks every field; the message names the parameter and the accepted range, in the words the
  // HTTP API returns to clients. `vocab_size` bounds token ids (logit_bias, stop_token_ids).
  Status Validate(int64_t vocab_size, const SamplingLimits& limits = {}) const;

  static constexpr float kGreedyTemperature = 1e-5f;
};

}  // namespace pagellm
