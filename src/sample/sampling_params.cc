// SamplingParams::Validate: range checks with client-facing messages.
#include "src/sample/sampling_params.h"

#include <cmath>

namespace pagellm {
namespace {
Status Bad(std::string_view param, std::string_view msg) {
  return InvalidArgument(StrCat(param, " ", msg));
}
}  // namespace

Status SamplingParams::Validate(int64_t vocab_size, const SamplingLimits& limits) const {
  if (n < 1) return Bad("n", StrCat("must be at least 1, got ", n, "."));
  if (n > limits.max_n) return Bad("n", StrCat("must be at most ", limits.max_n, ", got ", n, "."));
  if (best_of) {
    if (*best_of < n) {
      return Bad("best_of", StrCat("must be greater than or equal to n, got n=", n,
                                   " and best_of=", *best_of, "."));
    }
    if (*best_of > limits.max_n) {
      return Bad("best_of", StrCat("must be at most ", limits.max_n, ", got ", *best_of, "."));
    }
  }
  if (!std::isfinite(temperature) || temperature < 0.0f) {
    return Bad("temperature", StrCat("must be non-negative, got ", temperature, "."));
  }
  if (!(top_p > 0.0f && top_p <= 1.0f)) {
    return Bad("top_p", StrCat("must be in (0, 1], got ", top_p, "."));
  }
  if (top_k < -1) {
    return Bad("top_k", StrCat("must be -1 (disable), 0 (disable) or at least 1, got ", top_k, "."));
  }
  if (!(min_p >= 0.0f && min_p <= 1.0f)) {
    return Bad("min_p", StrCat("must be in [0, 1], got ", min_p, "."));
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    return Bad("presence_penalty", StrCat("must be in [-2, 2], got ", presence_penalty, "."));
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    return Bad("frequency_penalty", StrCat("must be in [-2, 2], got ", frequency_penalty, "."));
  }
  if (!(repetition_penalty > 0.0f && std::isfinite(repetition_penalty))) {
    return Bad("repetition_penalty", StrCat("must be greater than zero, got ", repetition_penalty, "."));
  }
  if (static_cast<int64_t>(logit_bias.size()) > limits.max_logit_bias_entries) {
    return Bad("logit_bias", StrCat("may hold at most ", limits.max_logit_bias_entries,
                                    " entries, got ", logit_bias.size(), "."));
  }
  for (const auto& [token, bias] : logit_bias) {
    if (token < 0 || token >= vocab_size) {
      return Bad("logit_bias", StrCat("has token id ", token, " outside the vocabulary [0, ",
                                      vocab_size, ")."));
    }
    if (!(bias >= -100.0f && bias <= 100.0f)) {
      return Bad("logit_bias", StrCat("values must be in [-100, 100], got ", bias, "."));
    }
  }
  if (max_tokens < 1) return Bad("max_tokens", StrCat("must be at least 1, got ", max_tokens, "."));
  if (min_tokens < 0) return Bad("min_tokens", StrCat("must be non-negative, got ", min_tokens, "."));
  if (min_tokens > max_tokens) {
    return Bad("min_tokens", StrCat("must be less than or equal to max_tokens=", max_tokens,
                                    ", got ", min_tokens, "."));
  }
  if (static_cast<int64_t>(stop.size()) > limits.max_stop_strings) {
    return Bad("stop", StrCat("may hold at most ", limits.max_stop_strings, " strings, got ",
                              stop.size(), "."));
  }
  for (const auto& s : stop) {
    if (s.empty()) return Bad("stop", "strings must not be empty.");
    if (static_cast<int64_t>(s.size()) > limits.max_stop_string_bytes) {
      return Bad("stop", StrCat("strings may be at most ", limits.max_stop_string_bytes,
                                " bytes long, got ", s.size(), "."));
    }
  }
  if (static_cast<int64_t>(stop_token_ids.size()) > limits.max_stop_token_ids) {
    return Bad("stop_token_ids", StrCat("may hold at most ", limits.max_stop_token_ids,
                                        " ids, got ", stop_token_ids.size(), "."));
  }
  for (TokenId t : stop_token_ids) {
    if (t < 0 || t >= vocab_size) {
      return Bad("stop_token_ids", StrCat("has token id ", t, " outside the vocabulary [0, ",
                                          vocab_size, ")."));
    }
  }
  if (logprobs && (*logprobs < 0 || *logprobs > limits.max_logprobs)) {
    return Bad("logprobs", StrCat("must be in [0, ", limits.max_logprobs, "], got ", *logprobs, "."));
  }
  if (prompt_logprobs && (*prompt_logprobs < 0 || *prompt_logprobs > limits.max_logprobs)) {
    return Bad("prompt_logprobs", StrCat("must be in [0, ", limits.max_logprobs, "], got ",
                                         *prompt_logprobs, "."));
  }
  if (!std::isfinite(length_penalty)) return Bad("length_penalty", "must be a finite number.");
  if (use_beam_search) {
    const int width = num_generated();
    if (width > limits.max_beam_width) {
      return Bad("best_of", StrCat("(beam width) must be at most ", limits.max_beam_width,
                                   " with beam search, got ", width, "."));
    }
    if (!greedy()) return Bad("temperature", "must be 0 with beam search.");
  }
  return absl::OkStatus();
}

}  // namespace pagellm
