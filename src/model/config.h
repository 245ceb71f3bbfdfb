// ModelConfig: the hyperparameters of a Llama-family decoder, from config.json or GGUF metadata.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
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
  std::string torch_dtype;  // config.json "torch_dtype" as written (informational), else empty

  int64_t q_dim() const { return num_heads * head_dim; }
  int64_t kv_dim() const { return num_kv_heads * head_dim; }

  // Checks internal consistency (positive sizes, GQA divisibility, even head_dim, sane limits).
  Status Validate() const;

  // Upper bounds Validate() enforces, so a hostile config cannot make us allocate terabytes.
  static constexpr int64_t kMaxHiddenSize = 65536;
  static constexpr int64_t kMaxIntermediateSize = 262144;
  static constexpr int64_t kMaxLayers = 512;
  static constexpr int64_t kMaxHeads = 1024;
  static constexpr int64_t kMaxHeadDim = 1024;
  static constexpr int64_t kMaxVocab = 4 << 20;
  static constexpr int64_t kMaxPositions = 16 << 20;
};

// From the text of a Hugging Face config.json (LlamaForCausalLM, MistralForCausalLM,
// Qwen2ForCausalLM, Qwen3ForCausalLM). `source` names the file in errors. RoPE style is kNeox.
// The result is validated.
StatusOr<ModelConfig> ConfigFromHfJson(std::string_view json_text,
                                       std::string_view source = "config.json");

class GgufFile;
// From GGUF metadata (general.architecture llama | qwen2 | qwen3 and the {arch}.* keys); tensor
// presence decides qkv_bias, qk_norm and tied embeddings. RoPE style: kInterleaved for "llama"
// (llama.cpp's converter permutes q/k rows for it), kNeox for qwen2/qwen3. Validated.
StatusOr<ModelConfig> ConfigFromGguf(const GgufFile& gguf);

}  // namespace pagellm
