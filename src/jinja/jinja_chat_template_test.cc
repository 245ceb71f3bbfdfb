// ChatTemplate API: RenderChat's HF context, real templates from ../shared with hand-derived
// expected prompts, content parts, key order, errors, JSON conversion and concurrent renders.
#include <fstream>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/jinja/chat_template.h"
#include "src/jinja/json.h"
#include "src/jinja/jinja_testutil.h"
#include "src/testing/testing.h"

namespace pagellm::jinja::testing {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

std::string ChatTemplateFrom(const std::filesystem::path& config_path) {
  std::ifstream f(config_path);
  std::stringstream ss;
  ss << f.rdbuf();
  return Json::parse(ss.str())["chat_template"].get<std::string>();
}

std::string MustRenderChat(const ChatTemplate& t, const Json& messages, bool add_generation_prompt,
                           const SpecialTokens& tokens = {}, const Json& extra = Json::object()) {
  auto r = t.RenderChat(messages, add_generation_prompt, tokens, extra);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : "";
}

TEST(ChatTemplate, ChatMl) {
  auto t = ChatTemplate::Parse(
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}");
  ASSERT_TRUE(t.ok()) << t.status();
  const Json messages = Json::parse(R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])");
  EXPECT_EQ(MustRenderChat(*t, messages, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(MustRenderChat(*t, messages, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, Llama3FromSharedConfig) {
  PAGELLM_REQUIRE_SHARED(config, "tokenizers/llama3/tokenizer_config.json");
  auto t = ChatTemplate::Parse(ChatTemplateFrom(config));
  ASSERT_TRUE(t.ok()) << t.status();
  const Json messages = Json::parse(R"([{"role": "system", "content": "You are helpful."}, {"role": "user", "content": " Hi! \n"}])");
  // This template always ends with the assistant header and trims each content.
  EXPECT_EQ(MustRenderChat(*t, messages, true, {.bos_token = "<|begin_of_text|>", .eos_token = "<|end_of_text|>"}),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Qwen3FromSharedConfig) {
  PAGELLM_REQUIRE_SHARED(config, "tokenizers/qwen3/tokenizer_config.json");
  auto t = ChatTemplate::Parse(ChatTemplateFrom(config));
  ASSERT_TRUE(t.ok()) << t.status();
  const SpecialTokens tokens{.eos_token = "<|im_end|>"};
  const Json simple = Json::parse(R"([{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hi"}])");
  EXPECT_EQ(MustRenderChat(*t, simple, true, tokens, Json{{"enable_thinking", false}}),
            "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\n");

  const Json tools = Json::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}])");
  const Json with_call = Json::parse(R"([
      {"role": "user", "content": "Q"},
      {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]},
      {"role": "tool", "content": "R"}])");
  EXPECT_EQ(MustRenderChat(*t, with_call, true, tokens, Json{{"tools", tools}}),
            "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            "{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}}\n"
            "</tools>\n\nFor each function call, return a json object with function name and arguments within "
            "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
            "<args-json-object>}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\nR\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, RenderChatBuildsTheHfContext) {
  auto t = ChatTemplate::Parse(
      "{{ tools is none }} {{ documents is none }} {{ add_generation_prompt }} {{ bos_token is defined }} "
      "{{ eos_token }} {{ messages|length }} {{ custom }}");
  ASSERT_TRUE(t.ok()) << t.status();
  const Json messages = Json::parse(R"([{"role": "user", "content": "x"}])");
  EXPECT_EQ(MustRenderChat(*t, messages, true, {.eos_token = "</s>"}, Json{{"custom", 7}}),
            "True True True False </s> 1 7");
  EXPECT_EQ(MustRenderChat(*t, messages, false, {}, Json{{"tools", Json::array()}, {"eos_token", "E"}}),
            "False True False False E 1 ");
  auto bad = t->RenderChat(messages, true, {}, Json{{"messages", Json::array()}});
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(t->RenderChat(Json::object(), true).ok());  // messages must be an array
}

TEST(ChatTemplate, ContentPartsArePassedThroughOrFlattened) {
  auto t = ChatTemplate::Parse(
      "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}"
      "{% for p in m.content %}[{{ p.type }}:{{ p.text|default('') }}]{% endfor %}{% endif %}|{% endfor %}");
  ASSERT_TRUE(t.ok()) << t.status();
  const Json messages = Json::parse(R"([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]},
                                         {"role": "assistant", "content": "plain"}])");
  EXPECT_EQ(MustRenderChat(*t, messages, false), "[text:a][image:][text:b]|plain|");
  EXPECT_EQ(MustRenderChat(*t, FlattenTextContent(messages), false), "a\nb|plain|");
  EXPECT_EQ(FlattenTextContent(messages, " ")[0]["content"], "a b");
}

TEST(ChatTemplate, KeyOrderFollowsTheJsonType) {
  auto t = ChatTemplate::Parse("{{ d|tojson }}");
  ASSERT_TRUE(t.ok());
  const std::string text = R"({"d": {"b": 1, "a": 2}})";
  auto ordered = t->Render(nlohmann::ordered_json::parse(text));
  auto sorted = t->Render(nlohmann::json::parse(text));
  ASSERT_TRUE(ordered.ok() && sorted.ok());
  EXPECT_EQ(*ordered, "{\"b\": 1, \"a\": 2}");  // as written, like Python's json.loads
  EXPECT_EQ(*sorted, "{\"a\": 2, \"b\": 1}");   // nlohmann::json stores objects sorted
}

TEST(ChatTemplate, TemplateErrorsComeBackAsStatus) {
  auto t = ChatTemplate::Parse(
      "{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
      "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
      "{% endif %}{{ m.content }}{% endfor %}");
  ASSERT_TRUE(t.ok());
  auto r = t->RenderChat(Json::parse(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])"), true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("Conversation roles must alternate user/assistant/user/assistant/..."));

  auto syntax = ChatTemplate::Parse("{% for m in messages %}\n{{ m.content }\n{% endfor %}");
  ASSERT_FALSE(syntax.ok());
  EXPECT_THAT(syntax.status().message(), HasSubstr("syntax error at line 2"));
}

TEST(ChatTemplate, ConcurrentRendersShareOneParsedTemplate) {
  auto t = ChatTemplate::Parse("{% for m in messages %}{{ m.content|upper }}{% endfor %}{{ range(3)|join }}");
  ASSERT_TRUE(t.ok());
  const Json messages = Json::parse(R"([{"role": "user", "content": "abc"}, {"role": "assistant", "content": "déf"}])");
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 200; ++k) {
        auto r = t->RenderChat(messages, false);
        if (r.ok() && *r == "ABCDÉF012") ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 800);
}

TEST(JinjaJson, ConversionBothWays) {
  Heap heap;
  const auto j = nlohmann::ordered_json::parse(
      R"({"s": "x", "i": -3, "u": 18446744073709551615, "f": 1.5, "b": true, "n": null, "l": [1, [2]], "o": {"z": 1, "a": 2}})");
  auto v = FromJson(j, &heap);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Repr(*v), "{'s': 'x', 'i': -3, 'u': 1.8446744073709552e+19, 'f': 1.5, 'b': True, 'n': None, "
                      "'l': [1, [2]], 'o': {'z': 1, 'a': 2}}");
  auto back = ToJson(*v);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->dump(), R"({"s":"x","i":-3,"u":1.8446744073709552e+19,"f":1.5,"b":true,"n":null,"l":[1,[2]],"o":{"z":1,"a":2}})");
  EXPECT_FALSE(ToJson(Value()).ok());  // undefined has no JSON form

  nlohmann::ordered_json deep = 1;
  for (int i = 0; i < 1000; ++i) deep = nlohmann::ordered_json::array({deep});
  EXPECT_THAT(std::string(FromJson(deep, &heap).status().message()), HasSubstr("nested too deeply"));
}

}  // namespace
}  // namespace pagellm::jinja::testing
