// EngineConfig: every engine option in one aggregate, and the one flag table that feeds the CLI,
// the server and the Python API (the same names everywhere: --block-size <-> block_size).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "src/base/status.h"
#include "src/sample/sampling_params.h"

namespace pagellm {

struct EngineConfig {
  // Model.
  std::string model;              // HF folder, .gguf file or llama2.c .bin checkpoint
  std::string tokenizer;          // overrides the tokenizer found beside the model
  std::string served_model_name;  // default: the model path's last component
  int64_t max_model_len = 0;      // 0: the model's own context length
  // Load-time weight conversion (LoadOptions): "auto" | "f32" | "bf16" | "f16", and
  // "none" | "q8_0" | "q4_0" (vLLM's names; quantization wins over dtype). Validated when set.
  std::string dtype = "auto";
  std::string quantization = "none";
  // Run from the mmapped model files instead of copying the weights into memory (LoadOptions).
  bool use_mmap = false;
  // KV cache.
  int64_t block_size = 16;
  uint64_t kv_cache_memory_bytes = 2ull << 30;  // cap; never more than max_num_seqs * max_model_len
  int64_t num_blocks = 0;                       // > 0 overrides kv_cache_memory_bytes
  bool enable_prefix_caching = true;
  // Scheduler.
  int64_t max_num_seqs = 256;
  int64_t max_num_batched_tokens = 2048;
  bool enable_chunked_prefill = true;
  bool priority_scheduling = false;
  int64_t max_num_waiting = 4096;
  // Compute.
  int threads = 0;    // 0: every core this process may use
  uint64_t seed = 0;  // 0: random; else the base of unseeded requests' generators
  // Request limits.
  SamplingLimits limits;

  std::string DisplayName() const;
};

struct EngineFlag {
  std::string_view name;  // CLI spelling without "--", e.g. "block-size"; Python uses underscores
  std::string_view value_name;  // e.g. "N"; empty for a switch (no value)
  std::string_view help;
  std::function<Status(EngineConfig&, std::string_view)> set;
};

std::span<const EngineFlag> EngineFlags();
// Finds a flag by CLI or Python name ("block-size" or "block_size").
const EngineFlag* FindEngineFlag(std::string_view name);
// "--name value" help lines for every flag.
std::string EngineFlagsHelp();

// Parses sizes like "4096", "512MB", "2GiB", "1.5GB".
StatusOr<uint64_t> ParseByteSize(std::string_view text);

}  // namespace pagellm
