// Benchmarks: parsing and rendering chat templates (Qwen2.5-style with tools, Llama 2) over
// conversations of growing length.
#include <fstream>
#include <sstream>

#include "benchmark/benchmark.h"
#include "src/jinja/chat_template.h"

namespace pagellm::jinja {
namespace {

std::string TemplateFile(const char* name) {
  std::ifstream f(std::filesystem::path(__FILE__).parent_path() / "testdata" / "templates" / name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

nlohmann::ordered_json Conversation(int turns) {
  auto messages = nlohmann::ordered_json::array();
  messages.push_back({{"role", "system"}, {"content", "You are a helpful assistant."}});
  for (int i = 0; i < turns; ++i) {
    messages.push_back({{"role", "user"}, {"content", "Question number " + std::to_string(i) + ": what is the weather like?"}});
    messages.push_back({{"role", "assistant"}, {"content", "It is sunny, with a light breeze from the west. Answer " + std::to_string(i)}});
  }
  messages.push_back({{"role", "user"}, {"content", "Thanks!"}});
  return messages;
}

void BM_Parse(benchmark::State& state) {
  const std::string source = TemplateFile("qwen2_5.jinja");
  for (auto _ : state) {
    auto t = ChatTemplate::Parse(source);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_Parse);

void BM_RenderQwen25(benchmark::State& state) {
  auto t = ChatTemplate::Parse(TemplateFile("qwen2_5.jinja"));
  const auto messages = Conversation(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    auto r = t->RenderChat(messages, true);
    bytes += r.ok() ? r->size() : 0;
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_RenderQwen25)->Arg(1)->Arg(10)->Arg(100)->Arg(1000);

void BM_RenderLlama2(benchmark::State& state) {
  auto t = ChatTemplate::Parse(TemplateFile("llama2.jinja"));
  auto messages = Conversation(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto r = t->RenderChat(messages, true, {.bos_token = "<s>", .eos_token = "</s>"});
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RenderLlama2)->Arg(1)->Arg(100);

}  // namespace
}  // namespace pagellm::jinja

BENCHMARK_MAIN();
