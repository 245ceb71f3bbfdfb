// RenderChatPrompt: a conversation -> prompt text with a chat template, the one way the OpenAI
// server (/v1/chat/completions, /tokenize) and the Python API (LLM.chat, apply_chat_template)
// render chats.
#pragma once

#include <optional>
#include <string>

#include "nlohmann/json.hpp"
#include "src/base/status.h"
#include "src/jinja/chat_template.h"
#include "src/tokenizer/tokenizer.h"

namespace pagellm {

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  // Cut what the template appends after the final message, so generation continues it
  // (implies no generation prompt).
  bool continue_final_message = false;
  // vLLM's "string" content format: list-of-parts contents become their text parts joined by
  // "\n" (what the server does). False passes contents to the template as given (HF).
  bool flatten_text_content = true;
  nlohmann::ordered_json tools;  // null: no tools
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // chat_template_kwargs
};

// BOS/EOS token strings of `tok` as the server passes them to templates (absent ones stay
// undefined). `tok` may be null.
jinja::SpecialTokens TemplateSpecialTokens(const Tokenizer* tok);

StatusOr<std::string> RenderChatPrompt(const jinja::ChatTemplate& chat_template,
                                       const nlohmann::ordered_json& messages,
                                       const jinja::SpecialTokens& special,
                                       const ChatRenderOptions& options);

}  // namespace pagellm
