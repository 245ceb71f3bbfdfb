// ChatTemplate: renders a model's chat_template (tokenizer_config.json or the GGUF key
// tokenizer.chat_template) into a prompt the way Hugging Face transformers'
// apply_chat_template does, for /v1/chat/completions and LLM.chat.
//
//   ASSIGN_OR_RETURN(auto tmpl, jinja::ChatTemplate::Parse(config["chat_template"]));
//   ASSIGN_OR_RETURN(std::string prompt,
//                    tmpl.RenderChat(messages, /*add_generation_prompt=*/true,
//                                    {.bos_token = "<s>", .eos_token = "</s>"}));
//
// Messages are passed to the template as given, like HF: "content" may be a string or a list
// of parts ({"type": "text", "text": ...}); templates that only handle strings then fail or
// misrender exactly as they do in HF. Callers that want vLLM's "string" content format first
// apply FlattenTextContent. Use nlohmann::ordered_json so tool schemas keep their key order in
// |tojson (HF preserves insertion order).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"
#include "src/base/status.h"
#include "src/jinja/template.h"

namespace pagellm::jinja {

// Special tokens passed to the template; absent ones stay undefined (HF passes only set ones).
struct SpecialTokens {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> unk_token;
  std::optional<std::string> pad_token;
};

class ChatTemplate {
 public:
  static StatusOr<ChatTemplate> Parse(std::string_view source);

  // Renders with an arbitrary context object (messages, add_generation_prompt, bos_token, tools,
  // and any extra keys, all passed as template variables).
  StatusOr<std::string> Render(const nlohmann::ordered_json& context) const;
  StatusOr<std::string> Render(const nlohmann::json& context) const;

  // HF's apply_chat_template context: messages, tools (null when absent, as HF passes
  // tools=None), documents (null when absent), add_generation_prompt, the special tokens that are
  // set, then every key of `extra` (an object, e.g. {"tools": [...], "enable_thinking": false});
  // extra may override tokens, tools and documents but not messages / add_generation_prompt.
  StatusOr<std::string> RenderChat(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                   const SpecialTokens& tokens = {},
                                   const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  // Limits, sandbox mode and clock for later renders (defaults: 16 MB output, 10^7 steps).
  void set_render_options(RenderOptions options) { options_ = std::move(options); }
  const RenderOptions& render_options() const { return options_; }

 private:
  explicit ChatTemplate(Template t) : template_(std::move(t)) {}
  Template template_;
  RenderOptions options_;
};

// Returns `messages` with every list-of-parts "content" replaced by its text parts joined with
// `separator` (parts of other types are dropped). String contents are unchanged.
nlohmann::ordered_json FlattenTextContent(const nlohmann::ordered_json& messages,
                                          std::string_view separator = "\n");

}  // namespace pagellm::jinja
