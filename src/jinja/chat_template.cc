// ChatTemplate: HF apply_chat_template context assembly on top of jinja::Template.
#include "src/jinja/chat_template.h"

namespace pagellm::jinja {

StatusOr<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  ASSIGN_OR_RETURN(Template t, Template::Parse(source));
  return ChatTemplate(std::move(t));
}

StatusOr<std::string> ChatTemplate::Render(const nlohmann::ordered_json& context) const {
  return template_.Render(context, options_);
}

StatusOr<std::string> ChatTemplate::Render(const nlohmann::json& context) const {
  return template_.Render(context, options_);
}

StatusOr<std::string> ChatTemplate::RenderChat(const nlohmann::ordered_json& messages,
                                               bool add_generation_prompt,
                                               const SpecialTokens& tokens,
                                               const nlohmann::ordered_json& extra) const {
  if (!messages.is_array()) return InvalidArgument("messages must be a JSON array");
  if (!extra.is_object() && !extra.is_null()) return InvalidArgument("extra must be a JSON object");
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = messages;
  context["tools"] = nullptr;
  context["documents"] = nullptr;
  context["add_generation_prompt"] = add_generation_prompt;
  if (tokens.bos_token) context["bos_token"] = *tokens.bos_token;
  if (tokens.eos_token) context["eos_token"] = *tokens.eos_token;
  if (tokens.unk_token) context["unk_token"] = *tokens.unk_token;
  if (tokens.pad_token) context["pad_token"] = *tokens.pad_token;
  if (extra.is_object()) {
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      if (it.key() == "messages" || it.key() == "add_generation_prompt") {
        return InvalidArgument(StrCat("extra template variables may not set '", it.key(), "'"));
      }
      context[it.key()] = it.value();
    }
  }
  return template_.Render(context, options_);
}

nlohmann::ordered_json FlattenTextContent(const nlohmann::ordered_json& messages,
                                          std::string_view separator) {
  nlohmann::ordered_json out = messages;
  if (!out.is_array()) return out;
  for (auto& m : out) {
    if (!m.is_object()) continue;
    auto it = m.find("content");
    if (it == m.end() || !it->is_array()) continue;
    std::string text;
    bool first = true;
    for (const auto& part : *it) {
      if (!part.is_object()) continue;
      auto type = part.find("type");
      auto t = part.find("text");
      if (type == part.end() || !type->is_string() || *type != "text") continue;
      if (t == part.end() || !t->is_string()) continue;
      if (!first) text += separator;
      first = false;
      text += t->get<std::string>();
    }
    *it = text;
  }
  return out;
}

}  // namespace pagellm::jinja
