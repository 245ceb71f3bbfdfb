// Tokenizer benchmarks: encode ~4 KB of mixed text (prose, code, numbers, CJK) with the real
// tokenizers in ../shared, decode, and stream-detokenize. Reports bytes/s and tokens/s.
//
//   build/src/tokenizer/tokenizer_bench   (set PAGELLM_SHARED_DIR if ../shared is elsewhere)
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "src/format/gguf.h"
#include "src/tokenizer/incremental_detokenizer.h"
#include "src/tokenizer/tokenizer.h"

namespace pagellm {
namespace {

std::filesystem::path SharedDir() {
  if (const char* env = std::getenv("PAGELLM_SHARED_DIR")) return env;
  for (const char* p : {"../shared", "../../shared", "../../../shared", "/work/shared"}) {
    if (std::filesystem::exists(std::filesystem::path(p) / "tokenizers")) return p;
  }
  return "../shared";
}

std::string SampleText() {
  const std::string para =
      "Once upon a time, in a small village by the sea, there lived an old fisherman who told "
      "stories about the stars. Every evening the children gathered around him and asked: "
      "\"How far away is the moon, and why does it change its shape?\" He laughed, lit his pipe, "
      "and began again.\n\n"
      "def tokenize(text: str) -> list[int]:\n"
      "    ids = []\n"
      "    for word in text.split():\n"
      "        ids.extend(vocab.get(word, [UNK]))  # fall back to bytes\n"
      "    return ids\n\n"
      "Prices rose 3.75% in 2024 (from $1,299.00 to $1,347.71); see Table 12, rows 4-19.\n"
      "\xE6\x88\x91\xE4\xBB\xAC\xE5\x9C\xA8\xE6\xB5\xB7\xE8\xBE\xB9\xE7\x9C\x8B\xE6\x98\x9F"
      "\xE6\x98\x9F\xE3\x80\x82 Les \xC3\xA9toiles brillaient, na\xC3\xAFvement. \xF0\x9F\x8C\x9F\n";
  std::string s;
  while (s.size() < 4096) s += para;
  return s.substr(0, 4096);
}

std::unique_ptr<Tokenizer> LoadHf(const char* dir) {
  const auto base = SharedDir() / "tokenizers" / dir;
  auto t = Tokenizer::FromHfFiles((base / "tokenizer.json").string(),
                                  (base / "tokenizer_config.json").string());
  return t.ok() ? std::move(*t) : nullptr;
}

std::unique_ptr<Tokenizer> LoadGguf(const char* name) {
  auto f = GgufFile::Open(
      (SharedDir() / "tokenizers/llama.cpp-vocab" / (std::string("ggml-vocab-") + name + ".gguf"))
          .string());
  if (!f.ok()) return nullptr;
  auto t = Tokenizer::FromGguf(**f);
  return t.ok() ? std::move(*t) : nullptr;
}

const Tokenizer* Get(const std::string& key) {
  static auto* cache = new std::map<std::string, std::unique_ptr<Tokenizer>>();
  auto it = cache->find(key);
  if (it != cache->end()) return it->second.get();
  std::unique_ptr<Tokenizer> t = key.rfind("gguf:", 0) == 0 ? LoadGguf(key.c_str() + 5)
                                                             : LoadHf(key.c_str());
  return ((*cache)[key] = std::move(t)).get();
}

void BM_Encode(benchmark::State& state, const std::string& key) {
  const Tokenizer* tok = Get(key);
  if (tok == nullptr) {
    state.SkipWithError("shared tokenizer data not found");
    return;
  }
  const std::string text = SampleText();
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tok->Encode(text, {.add_special = false});
    tokens = ids->size();
    benchmark::DoNotOptimize(ids);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_Decode(benchmark::State& state, const std::string& key) {
  const Tokenizer* tok = Get(key);
  if (tok == nullptr) {
    state.SkipWithError("shared tokenizer data not found");
    return;
  }
  const std::vector<TokenId> ids = *tok->Encode(SampleText(), {.add_special = false});
  for (auto _ : state) benchmark::DoNotOptimize(tok->Decode(ids));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids.size()));
}

void BM_IncrementalDetokenize(benchmark::State& state, const std::string& key) {
  const Tokenizer* tok = Get(key);
  if (tok == nullptr) {
    state.SkipWithError("shared tokenizer data not found");
    return;
  }
  const std::vector<TokenId> ids = *tok->Encode(SampleText(), {.add_special = false});
  for (auto _ : state) {
    IncrementalDetokenizer detok(*tok);
    for (TokenId id : ids) benchmark::DoNotOptimize(detok.Next(id));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids.size()));
}

BENCHMARK_CAPTURE(BM_Encode, llama3, std::string("llama3"));
BENCHMARK_CAPTURE(BM_Encode, qwen3, std::string("qwen3"));
BENCHMARK_CAPTURE(BM_Encode, mistral7b, std::string("mistral7b"));
BENCHMARK_CAPTURE(BM_Encode, gguf_llama_spm, std::string("gguf:llama-spm"));
BENCHMARK_CAPTURE(BM_Encode, gguf_deepseek_llm, std::string("gguf:deepseek-llm"));
BENCHMARK_CAPTURE(BM_Decode, llama3, std::string("llama3"));
BENCHMARK_CAPTURE(BM_IncrementalDetokenize, llama3, std::string("llama3"));
BENCHMARK_CAPTURE(BM_IncrementalDetokenize, mistral7b, std::string("mistral7b"));

}  // namespace
}  // namespace pagellm

BENCHMARK_MAIN();
