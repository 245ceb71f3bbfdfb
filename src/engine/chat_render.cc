// RenderChatPrompt: flatten text parts, render with BOS/EOS, cut after the final message for
// continue_final_message.
#include "src/engine/chat_render.h"

namespace pagellm {

jinja::SpecialTokens TemplateSpecialTokens(const Tokenizer* tok) {
  jinja::SpecialTokens special;
  if (tok != nullptr) {
    if (!tok->bos_token().empty()) special.bos_token = std::string(tok->bos_token());
    if (!tok->eos_token().empty()) special.eos_token = std::string(tok->eos_token());
  }
  return special;
}

StatusOr<std::string> RenderChatPrompt(const jinja::ChatTemplate& chat_template,
                                       const nlohmann::ordered_json& messages,
                                       const jinja::SpecialTokens& special,
                                       const ChatRenderOptions& options) {
  if (!messages.is_array() || messages.empty()) {
    return InvalidArgument("messages must be a non-empty list of messages");
  }
  nlohmann::ordered_json extra = options.extra.is_null() ? nlohmann::ordered_json::object() : options.extra;
  if (!extra.is_object()) return InvalidArgument("chat_template_kwargs must be a dict");
  if (!options.tools.is_null()) extra["tools"] = options.tools;
  const nlohmann::ordered_json rendered_messages =
      options.flatten_text_content ? jinja::FlattenTextContent(messages) : messages;
  const bool add_generation_prompt = options.add_generation_prompt && !options.continue_final_message;
  ASSIGN_OR_RETURN(std::string prompt,
                   chat_template.RenderChat(rendered_messages, add_generation_prompt, special, extra));
  if (options.continue_final_message) {
    const auto& last = rendered_messages.back();
    const std::string content = last.is_object() && last.contains("content") && last["content"].is_string()
                                    ? last["content"].get<std::string>()
                                    : "";
    const size_t pos = content.empty() ? std::string::npos : prompt.rfind(content);
    if (pos == std::string::npos) {
      return InvalidArgument(
          "continue_final_message: the final message's content was not found in the rendered prompt.");
    }
    prompt.resize(pos + content.size());
  }
  return prompt;
}

}  // namespace pagellm
