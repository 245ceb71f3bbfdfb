// Sampler: pure functions from one row of logits (+ the sequence's history) to the next token.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "src/base/types.h"
#include "src/sample/sampling_params.h"

namespace pagellm {

// The per-sequence random generator. Seeded requests own one seeded from SamplingParams::seed, so
// their samples do not depend on what else is in the batch.
using SamplerRng = std::mt19937_64;

struct TokenLogprob {
  TokenId token = 0;
  float logprob = 0.0f;
  int64_t rank = 0;  // 1 = the most likely token
};

// Logprobs of one position: the chosen token plus the top-k alternatives (most likely first).
struct PositionLogprobs {
  TokenLogprob chosen;
  std::vector<TokenLogprob> top;
};

struct SampleInput {
  std::span<const TokenId> prompt;  // for repetition_penalty
  std::span<const TokenId> output;  // tokens generated so far (presence/frequency/repetition)
  std::span<const TokenId> eos_ids; // suppressed while output.size() < min_tokens (unless ignore_eos)
};

class Sampler {
 public:
  // Picks the next token from `logits` ([vocab], modified in place: penalties, bias, temperature).
  // Logprobs, when asked for, are those of the raw model distribution (before processing), as vLLM
  // reports them.
  static TokenId Sample(std::span<float> logits, const SamplingParams& params,
                        const SampleInput& input, SamplerRng& rng,
                        std::optional<PositionLogprobs>* logprobs = nullptr);

  // Applies min_tokens suppression, logit_bias and the repetition/presence/frequency penalties.
  static void ApplyLogitsProcessors(std::span<float> logits, const SamplingParams& params,
                                    const SampleInput& input);

  // Log-softmax of `logits` for `token` and its rank, plus the `top_k` most likely tokens.
  static PositionLogprobs ComputeLogprobs(std::span<const float> logits, TokenId token, int top_k);

  // Index of the largest value (lowest index on ties).
  static TokenId Argmax(std::span<const float> logits);
};

}  // namespace pagellm
