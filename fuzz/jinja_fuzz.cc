// Fuzzes the Jinja2 interpreter: the input is a template source; it is lexed and parsed, and a
// template that parses is rendered against a chat context (system / user / assistant with tool
// calls / tool messages, list-of-parts content, tools, special tokens, extra kwargs of every JSON
// type) with a fixed clock and tight limits, so slow templates fail fast with ResourceExhausted.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "src/jinja/chat_template.h"
#include "src/jinja/template.h"

namespace {

using namespace pagellm;
using Json = nlohmann::ordered_json;

const Json& Messages() {
  static const Json* m = new Json(Json::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hi <b>there</b> \u00e9\u65e5 \ud83d\ude42"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21.5}"},
    {"role": "user", "content": [{"type": "text", "text": "part one"},
                                 {"type": "image_url", "image_url": {"url": "x"}}]},
    {"role": "assistant", "content": "<think>hmm</think>Sure.\n"}])"));
  return *m;
}

const Json& Extra() {
  static const Json* e = new Json(Json::parse(R"({
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"},
      "days": {"type": "integer"}}, "required": ["city"]}}}],
    "enable_thinking": false, "n": 7, "x": -2.5, "s": "a,b,c", "none": null,
    "nested": {"k": [1, 2.0, "3", [true, false], {"z": null}]}})"));
  return *e;
}

jinja::RenderOptions Options() {
  jinja::RenderOptions o;
  o.limits.max_steps = 200'000;
  o.limits.max_output_bytes = 1 << 20;
  o.limits.max_heap_items = 100'000;
  o.now = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)); };
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  auto parsed = jinja::ChatTemplate::Parse(source);
  if (!parsed.ok()) return 0;
  parsed->set_render_options(Options());
  auto out = parsed->RenderChat(Messages(), /*add_generation_prompt=*/true,
                                {.bos_token = "<s>", .eos_token = "</s>"}, Extra());
  if (out.ok() && out->size() > (1u << 20)) fuzz::Fail("output above the limit");
  // The generic engine with a mutable sandbox and a sorted-key (nlohmann::json) context.
  auto t = jinja::Template::Parse(source);
  if (!t.ok()) fuzz::Fail("Template::Parse disagrees with ChatTemplate::Parse");
  jinja::RenderOptions o = Options();
  o.immutable_sandbox = false;
  nlohmann::json ctx = nlohmann::json::parse(Extra().dump());
  ctx["messages"] = nlohmann::json::parse(Messages().dump());
  (void)t->Render(ctx, o);
  return 0;
}
