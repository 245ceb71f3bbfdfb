// Fuzzes the OpenAI request parsers: byte 0 picks /v1/completions, /v1/chat/completions or the
// plain JSON-object parser (/tokenize, /detokenize); the rest is the body. Accepted requests go
// on as in the server: SamplingParams::Validate, and chat messages through RenderChatPrompt with
// a real chat template (Qwen3's from the shared data, else a ChatML template with tools).
#include <cstdint>
#include <string>
#include <variant>

#include "fuzz/fuzz_util.h"
#include "src/engine/chat_render.h"
#include "src/jinja/chat_template.h"
#include "src/server/openai_request.h"

namespace {

using namespace pagellm;

constexpr const char* kChatMl = R"({%- if tools %}{{- '<|im_start|>system\n# Tools\n' }}
{%- for tool in tools %}{{- tool | tojson }}{{- '\n' }}{%- endfor %}{{- '<|im_end|>\n' }}{%- endif %}
{%- for message in messages %}
{%- if message.content is string %}{%- set content = message.content %}{%- else %}{%- set content = '' %}{%- endif %}
{{- '<|im_start|>' + message.role + '\n' + content }}
{%- if message.tool_calls %}{%- for call in message.tool_calls %}
{{- '\n<tool_call>\n' + (call.function | default(call)) | tojson + '\n</tool_call>' }}{%- endfor %}{%- endif %}
{{- '<|im_end|>\n' }}{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %})";

const jinja::ChatTemplate& Template() {
  static const jinja::ChatTemplate* t = [] {
    std::string source = kChatMl;
    if (auto config = fuzz::ReadFile(fuzz::SharedDir() + "/tokenizers/qwen3/tokenizer_config.json")) {
      auto json = nlohmann::json::parse(*config, nullptr, /*allow_exceptions=*/false);
      if (json.is_object() && json.contains("chat_template") && json["chat_template"].is_string()) {
        source = json["chat_template"].get<std::string>();
      }
    }
    auto parsed = jinja::ChatTemplate::Parse(source);
    if (!parsed.ok()) fuzz::Fail("the fuzzer's chat template does not parse");
    auto* tmpl = new jinja::ChatTemplate(std::move(*parsed));
    jinja::RenderOptions options;
    options.limits.max_steps = 200'000;
    options.limits.max_output_bytes = 1 << 20;
    tmpl->set_render_options(std::move(options));
    return tmpl;
  }();
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Template();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const jinja::ChatTemplate& tmpl = Template();
  fuzz::Input in(data, size);
  const int kind = in.Byte() % 3;
  const std::string body(in.Rest());
  constexpr int64_t kVocab = 32000;
  if (kind == 0) {
    auto r = server::ParseCompletionRequest(body);
    if (auto* err = std::get_if<server::ApiError>(&r)) {
      (void)err->ToJson();
      return 0;
    }
    const auto& req = std::get<server::CompletionRequest>(r);
    Status s = req.params.Validate(kVocab);
    if (!s.ok()) (void)server::ApiError::FromStatus(s).ToJson();
  } else if (kind == 1) {
    auto r = server::ParseChatRequest(body);
    if (auto* err = std::get_if<server::ApiError>(&r)) {
      (void)err->ToJson();
      return 0;
    }
    const auto& req = std::get<server::ChatRequest>(r);
    Status s = req.params.Validate(kVocab);
    if (!s.ok()) (void)server::ApiError::FromStatus(s).ToJson();
    ChatRenderOptions options;
    options.add_generation_prompt = req.add_generation_prompt;
    options.continue_final_message = req.continue_final_message;
    options.tools = req.tools;
    options.extra = req.chat_template_kwargs;
    jinja::SpecialTokens special{.bos_token = "<s>", .eos_token = "</s>"};
    auto prompt = RenderChatPrompt(tmpl, req.messages, special, options);
    if (!prompt.ok()) (void)server::ApiError::FromStatus(prompt.status()).ToJson();
  } else {
    auto r = server::ParseJsonObject(body);
    if (auto* j = std::get_if<nlohmann::json>(&r)) {
      if (!j->is_object()) fuzz::Fail("ParseJsonObject returned a non-object");
    }
  }
  return 0;
}
