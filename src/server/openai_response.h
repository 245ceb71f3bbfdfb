// OpenAI response bodies and stream chunks for completions and chat completions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "src/engine/output.h"
#include "src/tokenizer/tokenizer.h"

namespace pagellm::server {

using Json = nlohmann::ordered_json;

// Serializes with invalid UTF-8 replaced (token bytes can be partial characters).
std::string Dump(const Json& j);
std::string SseEvent(const Json& j);  // "data: {...}\n\n"
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

std::string NewRequestId(const char* prefix);  // "cmpl-3f2a..." / "chatcmpl-..."
int64_t UnixSeconds();

Json UsageJson(int64_t prompt_tokens, int64_t completion_tokens);
Json FinishReasonJson(const CompletionOutput& c);  // null while running
Json StopReasonJson(const CompletionOutput& c);    // the stop string or token id, else null

// Completions logprobs: {"tokens", "token_logprobs", "top_logprobs", "text_offset"} for the
// entries [from, from + count) of `logprobs` (the prompt's first, when echoed, then the output's).
struct LogprobEntry {
  TokenId token;
  std::optional<float> logprob;  // null for the first prompt token
  std::vector<TokenLogprob> top;
};
Json CompletionLogprobsJson(const Tokenizer& tok, const std::vector<LogprobEntry>& entries, size_t text_offset);
// Chat logprobs: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}, ...]}.
Json ChatLogprobsJson(const Tokenizer& tok, const std::vector<PositionLogprobs>& logprobs, size_t from,
                      size_t count);

std::vector<LogprobEntry> OutputLogprobEntries(const std::vector<PositionLogprobs>& logprobs, size_t from,
                                               size_t count);

}  // namespace pagellm::server
