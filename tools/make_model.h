// make-model: writes random-weight Llama-family models of realistic shapes as a Hugging Face
// folder (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) and/or a GGUF
// file that compute the same function (GGUF "llama" gets q/k rows permuted into the interleaved
// RoPE layout; "qwen2"/"qwen3" keep the HF layout). Tensors are generated and streamed one at a
// time, so even a 1.1B model never sits in memory whole.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/dtype.h"
#include "src/base/status.h"
#include "src/model/config.h"

namespace pagellm {

struct MakeModelOptions {
  ModelConfig config;            // architecture llama | mistral | qwen2 | qwen3
  DType dtype = DType::kF32;     // matrices (and HF norms/biases): F32, F16 or BF16
  // The GGUF's matrices (token_embd and output too; norms stay F32): F32, F16, BF16, or Q8_0 /
  // Q4_0 / Q4_1 / Q5_0 / Q5_1 quantized from the same values per row (a matrix whose rows are not
  // whole 32-blocks is written F16 instead, like llama.cpp's fallback). nullopt: `dtype`. With a
  // block type the GGUF holds the rounded weights, so it computes nearly (not exactly) the HF
  // folder's function. Q4_K / Q5_K / Q6_K quantize per 256-value row block (our round-to-nearest
  // quantizer, quantize.h); rows not whole 256-blocks fall back as in llama.cpp: Q4_K -> Q5_0,
  // Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K / Q3_K -> IQ4_NL when whole 32-blocks, else F16.
  std::optional<DType> gguf_dtype;
  // llama.cpp's Q4_K_M / Q5_K_M mix (with gguf_dtype Q4_K / Q5_K, general.file_type 15 / 17):
  // gguf_dtype, except Q6_K for output (token_embd when the head is tied) and for attn_v /
  // ffn_down of the layers llama.cpp's use_more_bits picks (the first and last eighth, every third
  // in between). Simplified: no special cases for other architectures (falcon), MoE or 70B models.
  bool gguf_k_m = false;
  uint64_t seed = 0;
  bool write_hf = true;
  bool write_gguf = false;
  std::string output_dir;        // the HF folder; the GGUF goes inside it as `gguf_name`
  std::string gguf_name = "model.gguf";
  bool show_progress = true;     // a progress bar on a terminal
};

// The named shapes: "tiny" (tests), "qwen2.5-0.5b", "tinyllama-1.1b".
std::vector<std::string_view> MakeModelPresetNames();
StatusOr<ModelConfig> MakeModelPreset(std::string_view name);
// The default dtype of a preset: F32 for "tiny", BF16 for the real-size shapes.
DType MakeModelPresetDType(std::string_view name);

// Writes the files. Weights ~ N(0, 0.02^2), norms 1 + N(0, 0.02^2) (never zero); the same seed
// gives the same files. Errors name the file or the invalid setting.
Status MakeModel(const MakeModelOptions& options);

// `pagellm make-model` (argv[0] is the command name). Returns a process exit code.
int MakeModelMain(int argc, char** argv);

}  // namespace pagellm
