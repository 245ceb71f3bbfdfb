// LoadModel: a Hugging Face folder, a GGUF file or a llama2.c checkpoint -> ModelConfig plus
// ModelWeights (views into the mmapped files), checked tensor by tensor against the config.
//
//   HF folder   config.json + model.safetensors or model.safetensors.index.json (shards);
//               names model.embed_tokens, model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj
//               (+ .bias for Qwen2), self_attn.{q,k}_norm (Qwen3), post_attention_layernorm,
//               mlp.{gate,up,down}_proj}, model.norm, lm_head (absent or tied -> embed).
//               RoPE kNeox.
//   .gguf       arch llama | qwen2 | qwen3; names token_embd, blk.N.{attn_norm, attn_q, attn_k,
//               attn_v, attn_output, attn_{q,k,v}.bias, attn_q_norm, attn_k_norm, ffn_norm,
//               ffn_gate, ffn_up, ffn_down}, output_norm, output (absent -> tied), rope_freqs.
//               RoPE kInterleaved for llama (q/k rows permuted by llama.cpp's converter), else kNeox.
//   .bin        llama2.c: legacy header (7 x int32; negative vocab_size = unshared classifier;
//               freq_cis tables skipped) or "ak42" version 1 (fp32). RoPE kInterleaved.
//
// Matrices may be F32/F16/BF16 (GGUF also its block types, IsGgufBlockDType); norms, biases and
// rope_freqs are handed out as F32 (F16/BF16 ones are converted into buffers owned by the
// weights). A tensor whose data is not aligned to its element size is copied into an aligned owned
// buffer. LoadOptions::dtype / quantization convert the matrices of any format once at load.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "src/model/config.h"
#include "src/model/weights.h"

namespace pagellm {

class GgufFile;

enum class ModelFormat : uint8_t { kHuggingFace, kGguf, kLlama2c };
std::string_view ModelFormatName(ModelFormat f);

struct LoadOptions {
  // > 0: replaces config.max_position_embeddings (e.g. stories260K's GGUF says 128 although the
  // model was trained on 512). Must be within ModelConfig::kMaxPositions.
  int64_t max_model_len = 0;
  // llama2.c only: the tokenizer .bin; default tokenizer.bin, else the single tok*.bin beside the
  // checkpoint.
  std::string tokenizer_path;
  // Show a progress bar while paging in big files (only when stderr is a terminal).
  bool show_progress = true;
  // Load-time conversion of the weight matrices (embedding, lm_head and every linear layer; norms
  // and biases stay F32) into buffers owned by the weights, once:
  //   dtype         F32 / F16 / BF16: matrices stored otherwise are converted (block types are
  //                 dequantized first); nullopt ("auto"): as stored.
  //   quantization  Q8_0 / Q4_0 (quantize.h): every matrix whose rows are whole 32-blocks is
  //                 quantized to it (the others stay as dtype says, with a warning), whatever
  //                 dtype says; nullopt ("none"): no quantization.
  std::optional<DType> dtype;
  std::optional<DType> quantization;
  // false (default): after loading, every weight still in a file mapping is copied into owned
  // memory advised to use transparent huge pages (batch-1 decode ran 1.6x faster from it than from
  // the mapped page cache on these machines), and those file pages leave the process's mapping.
  // true: run from the mapped files (faster start, pages shared with other processes).
  bool use_mmap = false;
};

// "auto" -> nullopt; "f32"/"float32"/"float", "f16"/"float16"/"half", "bf16"/"bfloat16".
StatusOr<std::optional<DType>> ParseWeightDType(std::string_view text);
// "none" or "" -> nullopt; "q8_0", "q4_0" (any case).
StatusOr<std::optional<DType>> ParseQuantization(std::string_view text);

struct LoadedModel {
  ModelFormat format = ModelFormat::kHuggingFace;
  std::string path;     // what was loaded (folder or file)
  ModelConfig config;   // max_position_embeddings after the max_model_len override
  int64_t file_max_position_embeddings = 0;  // as the files say, before any override
  ModelWeights weights;

  // What the tokenizer loader needs (set according to the format):
  std::string tokenizer_json_path;         // HF: <dir>/tokenizer.json, empty if absent
  std::string tokenizer_config_json_path;  // HF: <dir>/tokenizer_config.json, empty if absent
  std::shared_ptr<const GgufFile> gguf;    // GGUF: the file (tokenizer.ggml.* metadata)
  std::string llama2c_tokenizer_path;      // llama2.c: tokenizer .bin, empty if none was found

  std::vector<std::string> unused_tensors;  // present in the files, not used by the model
  std::vector<std::string> warnings;        // notable but harmless findings
};

// Detects the format from the path: a folder -> HF, *.gguf or GGUF magic -> GGUF, else a
// llama2.c checkpoint.
StatusOr<ModelFormat> DetectModelFormat(const std::string& path);

StatusOr<LoadedModel> LoadModel(const std::string& path, const LoadOptions& options = {});

}  // namespace pagellm
