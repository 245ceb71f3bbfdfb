// OpenAI request bodies -> native structs: /v1/completions and /v1/chat/completions, with every
// sampling parameter under OpenAI's and vLLM's names. Types are checked strictly; ranges are
// checked by SamplingParams::Validate (the engine) so the API and the Python layer agree.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "nlohmann/json.hpp"
#include "src/base/types.h"
#include "src/sample/sampling_params.h"
#include "src/server/api_error.h"

namespace pagellm::server {

using PromptInput = std::variant<std::string, std::vector<TokenId>>;

struct StreamOptions {
  bool stream = false;
  bool include_usage = false;
  bool continuous_usage_stats = false;
};

struct CompletionRequest {
  std::string model;
  std::vector<PromptInput> prompts;
  SamplingParams params;
  StreamOptions stream;
  bool echo = false;
  bool add_special_tokens = true;
  int priority = 0;
  std::string cache_salt;
};

struct ChatRequest {
  std::string model;
  nlohmann::ordered_json messages;  // validated: array of {role, content, ...}
  SamplingParams params;
  bool max_tokens_given = false;    // else: up to the context length
  StreamOptions stream;
  bool logprobs = false;            // then params.logprobs = top_logprobs (0 if absent)
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  bool echo = false;
  bool add_special_tokens = false;  // the template writes BOS itself (vLLM's default)
  nlohmann::ordered_json tools;     // null or array
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
  int priority = 0;
  std::string cache_salt;
};

// Parses a JSON body; errors are 400s naming the parameter.
std::variant<CompletionRequest, ApiError> ParseCompletionRequest(const std::string& body);
std::variant<ChatRequest, ApiError> ParseChatRequest(const std::string& body);

// Shared by /tokenize, /detokenize: the body as a JSON object or a 400.
std::variant<nlohmann::json, ApiError> ParseJsonObject(const std::string& body);

}  // namespace pagellm::server
