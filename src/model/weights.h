// ModelWeights: named views of every tensor a Llama-family forward pass reads.
// Views point into buffers owned by the ModelWeights itself (the default: weights copied out of the
// files at load, see LoadOptions::use_mmap) or into the mmapped files.
#pragma once

#include <memory>
#include <vector>

#include "src/base/aligned_buffer.h"
#include "src/base/mapped_file.h"
#include "src/base/tensor.h"

namespace pagellm {

// Matrices are [out_features, in_features] (PyTorch nn.Linear layout), rows contiguous.
struct LayerWeights {
  TensorView attn_norm;  // [hidden]            always F32
  TensorView wq;         // [q_dim, hidden]
  TensorView wk;         // [kv_dim, hidden]
  TensorView wv;         // [kv_dim, hidden]
  TensorView bq;         // [q_dim]             F32, empty unless qkv_bias
  TensorView bk;         // [kv_dim]            F32, empty unless qkv_bias
  TensorView bv;         // [kv_dim]            F32, empty unless qkv_bias
  TensorView q_norm;     // [head_dim]          F32, empty unless qk_norm
  TensorView k_norm;     // [head_dim]          F32, empty unless qk_norm
  TensorView wo;         // [hidden, q_dim]
  TensorView ffn_norm;   // [hidden]            always F32
  TensorView w_gate;     // [intermediate, hidden]
  TensorView w_up;       // [intermediate, hidden]
  TensorView w_down;     // [hidden, intermediate]
};

struct ModelWeights {
  TensorView embed;       // [vocab, hidden]
  std::vector<LayerWeights> layers;
  TensorView final_norm;  // [hidden]           always F32
  TensorView lm_head;     // [vocab, hidden]     the same view as embed when tied
  // Optional per-frequency divisors for RoPE, F32 [head_dim / 2] (GGUF "rope_freqs.weight", how
  // llama.cpp stores Llama 3 rope scaling): inverse frequency i = theta^(-2i/head_dim) / rope_freqs[i].
  TensorView rope_freqs;

  // Keep-alive storage behind the views.
  std::vector<std::unique_ptr<MappedFile>> files;
  std::vector<AlignedBuffer<uint8_t>> owned;
  std::vector<std::shared_ptr<const void>> keep_alive;  // e.g. the GgufFile the views point into

  // Copies `bytes` into an owned, aligned buffer and returns a pointer to the copy.
  const void* Own(const void* bytes, size_t n);
  // An owned zero-filled buffer of `n` bytes; `huge_pages` advises transparent huge pages.
  void* Allocate(size_t n, bool huge_pages = false);
  // Whether `p` points into one of the owned buffers.
  bool IsOwned(const void* p) const;
  // Every tensor view (empty ones included), in a fixed order: embed, final_norm, lm_head,
  // rope_freqs, then each layer's in declaration order.
  std::vector<TensorView*> Views();
  std::vector<const TensorView*> Views() const;
};

}  // namespace pagellm
