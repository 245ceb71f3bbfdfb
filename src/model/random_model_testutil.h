// Random-weight models for tests and benchmarks: a ModelConfig plus ModelWeights whose tensors are
// random normal values in buffers the weights own.
#pragma once

#include <cstdint>

#include "src/base/dtype.h"
#include "src/model/config.h"
#include "src/model/weights.h"

namespace pagellm::testing {

struct RandomWeightsOptions {
  DType matrix_dtype = DType::kF32;  // wq, wk, wv, wo, w_gate, w_up, w_down, lm_head (untied)
  DType embed_dtype = DType::kF32;   // embed (and lm_head when tied)
  bool rope_freqs = false;           // add a GGUF-style rope_freqs tensor (divisors in [1, 4])
  uint64_t seed = 1;
  // Uniform values of the same mean and variance from a xorshift generator: ~20x faster, for
  // benchmarks of realistic sizes (speed does not depend on the values).
  bool fast = false;
};

// Weights for every tensor `config` implies. Matrices ~ N(0, 1/in_features) so activations stay
// O(1); embeddings ~ N(0, 1); norms ~ 1 + N(0, 0.1^2); biases ~ N(0, 0.1^2) (or uniform with
// those moments when options.fast).
// Precondition: config.Validate() is ok; dtypes are F32, F16 or BF16.
ModelWeights MakeRandomWeights(const ModelConfig& config, const RandomWeightsOptions& options);

// A small valid config with the given shape; other fields at Llama defaults (neox RoPE, theta 1e4).
ModelConfig SmallConfig(int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads,
                        int64_t kv_heads, int64_t head_dim, int64_t vocab);

}  // namespace pagellm::testing
