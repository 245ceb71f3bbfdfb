// Engine test helpers.
#include "src/engine/engine_testutil.h"

#include "gtest/gtest.h"
#include "src/model/random_model_testutil.h"
#include "src/testing/testing.h"

namespace pagellm::testing {

ModelConfig RandomEngineModelConfig() {
  ModelConfig c = SmallConfig(/*hidden=*/64, /*intermediate=*/144, /*layers=*/2, /*heads=*/4,
                              /*kv_heads=*/2, /*head_dim=*/16, /*vocab=*/320);
  c.eos_token_ids = {2};
  c.bos_token_id = 1;
  c.max_position_embeddings = 1024;
  return c;
}

StatusOr<std::unique_ptr<LlamaModel>> MakeRandomModel(const ModelConfig& mc, uint64_t seed, DType dtype) {
  ModelWeights w = MakeRandomWeights(mc, {.matrix_dtype = dtype, .embed_dtype = dtype, .seed = seed});
  return LlamaModel::Create(mc, std::move(w));
}

StatusOr<std::unique_ptr<Engine>> MakeRandomEngine(const EngineConfig& config, const ModelConfig& mc,
                                                   uint64_t seed, DType dtype) {
  ASSIGN_OR_RETURN(auto model, MakeRandomModel(mc, seed, dtype));
  return Engine::Create(config, std::move(model), nullptr);
}

StatusOr<std::unique_ptr<Engine>> MakeRandomEngine(const EngineConfig& config, uint64_t seed,
                                                   DType dtype) {
  return MakeRandomEngine(config, RandomEngineModelConfig(), seed, dtype);
}

std::string StoriesModelPath(const std::string& format) {
  const std::string rel = format == "hf"     ? "models/stories260K/hf"
                          : format == "gguf" ? "models/stories260K/gguf/stories260K.gguf"
                                             : "models/stories260K/llama2c/stories260K.bin";
  auto p = SharedFile(rel);
  return p ? p->string() : "";
}

std::map<std::string, RequestOutput> RunAll(Engine& engine, std::vector<EngineRequest> requests,
                                            std::vector<EngineStats>* per_step_stats) {
  std::map<std::string, RequestOutput> out;
  for (auto& r : requests) {
    const std::string id = r.request_id;
    Status s = engine.AddRequest(std::move(r));
    EXPECT_TRUE(s.ok()) << id << ": " << s;
  }
  for (int step = 0; engine.HasUnfinished() && step < 100000; ++step) {
    auto outputs = engine.Step();
    EXPECT_TRUE(outputs.ok()) << outputs.status();
    if (!outputs.ok()) break;
    if (per_step_stats) per_step_stats->push_back(engine.Stats());
    for (auto& o : *outputs) {
      if (o.finished) out[o.request_id] = std::move(o);
    }
  }
  EXPECT_FALSE(engine.HasUnfinished());
  return out;
}

EngineRequest Greedy(const std::string& id, std::vector<TokenId> prompt, int max_tokens) {
  EngineRequest r;
  r.request_id = id;
  r.prompt_token_ids = std::move(prompt);
  r.params.temperature = 0;
  r.params.max_tokens = max_tokens;
  r.params.ignore_eos = true;  // full-length outputs make comparisons stronger
  return r;
}

}  // namespace pagellm::testing
