// ModelConfig: the hyperparameters of a Llama-family decoder, from config.json or GGUF metadata.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/types.h"

namespace pagellm {

// How RoPE pairs the dimensions of a head.
enum class RopeStyle : uint8_t {
  kNeox,         // pairs (i, i + head_dim/2): Hugging Face "rotate_half" layout (also GGUF qwen2/3)
  kInterleaved,  // pairs (2i, 2i + 1): Meta / llama2.c / GGUF "llama" layout
};

struct RopeScaling {
  enum class Type : uint8_t { kNone, kLinear, kLlama3 };
  Type type = Type::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;                   // llama3
  double high_freq_factor = 4.0;                  // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct ModelConfig {
  std::string architecture = "llama";  // llama | mistral | qwen2 | qwen3
  int64_t hidden_size = 0;              // model width (dim)
  int64_t intermediate_size = 0;        // SwiGLU hidden width
  int64_t num_layers = 0;
  int64_t num_heads = 0;                // query heads
  int64_t num_kv_heads = 0;             // key/value heads (GQA: divides num_heads)
  int64_t head_dim = 0;                 // usually hidden_size / num_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;  // context length the model was trained for
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeStyle rope_style = RopeStyle::kNeox;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2: biases on q/k/v projections
  bool qk_norm = false;   // Qwen3: RMSNorm over each head of q and k before RoPE
  int64_t sliding_window = 0;  // 0: full attention (recorded; not applied yet)
  TokenId bos_token_id = -1;
  std::vector<TokenId> eos_token_ids;

  int64_t q_dim() const { return num_heads * head_dim; }
  int64_t kv_dim() const { return num_kv_heads * head_dim; }

  // Checks internal consistency (positive sizes, GQA divisibility, even head_dim, sane limits).
  Status Validate() const;
};

}  // namespace pagellm
