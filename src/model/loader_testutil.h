// Test helpers for the loaders: small synthetic models as HF folders, GGUF files and llama2.c
// checkpoints, built from editable tensor lists so tests can break them on purpose.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/format/gguf_writer.h"
#include "src/model/config.h"

namespace pagellm::testing {

struct FakeTensor {
  std::string name;
  DType dtype = DType::kF32;        // stored dtype (F32, F16, BF16; Q8_0/Q4_0 quantized per row)
  std::vector<int64_t> shape;
  std::vector<float> values;        // numel values, converted to `dtype` when written
};

// A small valid Llama config (hidden 32, 2 layers, 4 heads, 2 KV heads, vocab 64).
ModelConfig TinyConfig();

// Every tensor `c` needs, named per scheme, with deterministic random values (norms near 1).
// HF q/k rows are in HF (rotate_half) order; GGUF "llama" rows in interleaved order, i.e. the
// same model. Norms and biases are F32, matrices `dtype`.
std::vector<FakeTensor> HfTensors(const ModelConfig& c, uint64_t seed, DType dtype = DType::kF32);
std::vector<FakeTensor> GgufTensors(const ModelConfig& c, uint64_t seed, DType dtype = DType::kF32);

// Finds a tensor by name (CHECK-fails if absent: a bug in the test).
FakeTensor& Tensor(std::vector<FakeTensor>& tensors, const std::string& name);
void Remove(std::vector<FakeTensor>& tensors, const std::string& name);

// config.json text for `c` (HF names; architectures from c.architecture).
std::string HfConfigJson(const ModelConfig& c);

Status WriteText(const std::filesystem::path& path, std::string_view text);
Status WriteSafetensors(const std::filesystem::path& path, const std::vector<FakeTensor>& tensors);
// config.json + model.safetensors.
Status WriteHfFolder(const std::filesystem::path& dir, const std::string& config_json,
                     const std::vector<FakeTensor>& tensors);
// GGUF with the {arch}.* metadata of `c`, a token list of c.vocab_size entries, and `tensors`;
// `edit` may change the metadata before writing.
Status WriteGguf(const std::filesystem::path& path, const ModelConfig& c,
                 const std::vector<FakeTensor>& tensors,
                 const std::function<void(GgufWriter&)>& edit = nullptr);

// A llama2.c checkpoint of `c` (legacy or version 1 layout) with random weights; also returns the
// GGUF-named tensors it holds so tests can compare.
std::vector<uint8_t> Llama2cBytes(const ModelConfig& c, bool version1, bool shared_classifier,
                                  uint64_t seed);

// Permutes HF (rotate_half) q/k rows into the interleaved layout: row h*hd + 2i + j of the result
// is row h*hd + j*hd/2 + i of `hf_rows` (rows of `cols` values; `n_heads` heads of `head_dim`).
std::vector<float> PermuteToInterleaved(const std::vector<float>& hf_rows, int64_t n_heads,
                                        int64_t head_dim, int64_t cols);

}  // namespace pagellm::testing
