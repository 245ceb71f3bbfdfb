// Benchmark workloads: ShareGPT conversations (vLLM's ShareGPT_V3 JSON) and random prompts.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"

namespace pagellm::bench {

// One request of a benchmark: a text prompt or token ids, with its length in tokens and the
// number of tokens to generate.
struct BenchRequest {
  std::string prompt_text;            // used when prompt_ids is empty
  std::vector<int32_t> prompt_ids;
  int64_t prompt_len = 0;
  int64_t output_len = 0;
};

// The first two turns of a conversation: the human prompt and the model's answer.
struct Conversation {
  std::string prompt;
  std::string completion;
};

// Parses a ShareGPT file: a JSON list of {"conversations": [{"from": ..., "value": TEXT}, ...]}.
// Entries with fewer than two turns are skipped; anything not shaped like that is an error that
// names the entry. `name` labels the messages (the file name).
StatusOr<std::vector<Conversation>> ParseShareGpt(std::string_view json, std::string_view name);
StatusOr<std::vector<Conversation>> LoadShareGpt(const std::string& path);

// Picks `n` requests from the conversations in a seeded random order: prompt_len = the prompt's
// token count, output_len = `fixed_output_len` if > 0 else the completion's token count. Like
// vLLM, conversations with a prompt or answer under 4 tokens are skipped, and so are those longer
// than `max_len` tokens in all (prompt + output). If fewer than n are usable they are reused in
// turn; none usable is an error.
using TokenCounter = std::function<StatusOr<int64_t>(const std::string&)>;
StatusOr<std::vector<BenchRequest>> SampleShareGpt(const std::vector<Conversation>& conversations, size_t n,
                                                   uint64_t seed, const TokenCounter& count_tokens,
                                                   int64_t max_len, int64_t fixed_output_len);

}  // namespace pagellm::bench
