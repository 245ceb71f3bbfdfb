// Engine test helpers: engines on stories260K or random models, and running requests to the end.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/engine/engine.h"

namespace pagellm::testing {

// A small random Llama (F32 weights unless `dtype` says otherwise) with no tokenizer.
ModelConfig RandomEngineModelConfig();
StatusOr<std::unique_ptr<Engine>> MakeRandomEngine(const EngineConfig& config, uint64_t seed = 1,
                                                   DType dtype = DType::kF32);
StatusOr<std::unique_ptr<Engine>> MakeRandomEngine(const EngineConfig& config, const ModelConfig& model,
                                                   uint64_t seed, DType dtype = DType::kF32);
StatusOr<std::unique_ptr<LlamaModel>> MakeRandomModel(const ModelConfig& model, uint64_t seed,
                                                      DType dtype = DType::kF32);

// stories260K from ../shared in `format` ("hf", "gguf" or "llama2c"), or nullptr if absent.
std::string StoriesModelPath(const std::string& format);

// Adds every request, steps until all finish, returns the final outputs by request id. Also
// records the largest internal waste and preemption count seen (when the pointers are given).
std::map<std::string, RequestOutput> RunAll(Engine& engine, std::vector<EngineRequest> requests,
                                            std::vector<EngineStats>* per_step_stats = nullptr);

EngineRequest Greedy(const std::string& id, std::vector<TokenId> prompt, int max_tokens);

}  // namespace pagellm::testing
