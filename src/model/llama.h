// LlamaModel: the paged forward pass of Llama-family decoders (Llama, Mistral, Qwen2, Qwen3).
//
// One Forward() runs a flat batch of tokens from any number of sequences (prefill chunks and
// decode tokens alike):
//
//   x = embed[tokens]                                                   [T, hidden]
//   per layer:  h = RmsNorm(x) ; q, k, v = h Wq^T (+bq), h Wk^T (+bk), h Wv^T (+bv)
//               (Qwen3: RmsNorm over each head of q and k) ; RoPE(q, k) at the token positions
//               K/V -> paged KV at the token slots ; a = PagedAttention(q, KV, block tables)
//               x += a Wo^T ; h = RmsNorm(x) ; x += (silu(h Wg^T) * h Wu^T) Wd^T
//   logits[i] = RmsNorm(x[logits_idx[i]]) lm_head^T                    [num_logits, vocab]
//
// Every token's values are computed independently of the rest of the batch (kernels.h, batch
// invariance), so a request's logits are bitwise the same alone, batched, or chunked.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "src/base/aligned_buffer.h"
#include "src/base/status.h"
#include "src/base/thread_pool.h"
#include "src/kernels/kernels.h"
#include "src/kv/kv_storage.h"
#include "src/model/batch.h"
#include "src/model/config.h"
#include "src/model/forward_profile.h"
#include "src/model/weights.h"

namespace pagellm {

class LlamaModel {
 public:
  // Validates `config` and checks every weight against it (shape; matrices F32/F16/BF16 as the
  // kernels support; norms, biases and rope_freqs F32); takes ownership of the weights.
  // `kernels` defaults to Kernels::Default().
  static StatusOr<std::unique_ptr<LlamaModel>> Create(ModelConfig config, ModelWeights weights,
                                                      const Kernels* kernels = nullptr);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const Kernels& kernels() const { return kernels_; }

  // The KvStorage shape this model needs; block_size and num_blocks are the caller's choice.
  KvCacheSpec KvSpec(int64_t block_size, int64_t num_blocks) const;

  // Runs `batch`: writes the K/V of every token to its slot in `kv` and the logits of rows
  // batch.logits_idx to logits [num_logits, vocab_size] (extra space untouched). Invalid input
  // (token ids outside the vocabulary, positions outside a sequence's context or block table,
  // slots that disagree with the block table, KV storage of another shape, logits too small, ...)
  // returns InvalidArgument before anything is computed or written.
  // Not thread-safe (scratch buffers); one engine thread calls it.
  Status Forward(const ForwardBatch& batch, KvStorage& kv, ThreadPool& pool,
                 std::span<float> logits /*[num_logits, vocab_size]*/);

  // Profiling: while set, every Forward adds its per-op wall times to `*profile` (the caller
  // keeps it alive and reads it between Forward calls); null (the default) turns it off.
  void SetProfile(ForwardProfile* profile) { profile_ = profile; }

 private:
  LlamaModel(ModelConfig config, ModelWeights weights, const Kernels& kernels);

  Status ValidateBatch(const ForwardBatch& batch, const KvStorage& kv,
                       std::span<const float> logits);
  void EnsureScratch(int64_t num_tokens, int64_t num_logits);

  ModelConfig config_;
  ModelWeights weights_;
  Kernels kernels_;  // a copy: Kernels is one pointer to an immutable static table
  RopePairing rope_pairing_;
  std::vector<double> inv_freq_;  // [head_dim / 2]
  ForwardProfile* profile_ = nullptr;

  // Scratch, grown to the largest batch seen (no allocation in steady state).
  int64_t capacity_tokens_ = 0;
  int64_t capacity_logits_ = 0;
  AlignedBuffer<float> x_;      // [T, hidden] residual stream
  AlignedBuffer<float> xn_;     // [T, hidden] normed input of a projection
  AlignedBuffer<float> q_;      // [T, q_dim]
  AlignedBuffer<float> k_;      // [T, kv_dim]
  AlignedBuffer<float> v_;      // [T, kv_dim]
  AlignedBuffer<float> attn_;   // [T, q_dim]
  AlignedBuffer<float> gate_;   // [T, intermediate]
  AlignedBuffer<float> up_;     // [T, intermediate]
  AlignedBuffer<float> rope_;   // [T, 2, head_dim]
  AlignedBuffer<float> last_;   // [num_logits, hidden] final-normed rows that need logits
  std::vector<BlockTableView> tables_;  // [num_seqs]
  std::vector<int32_t> max_pos_;        // [num_seqs] validation scratch
};

}  // namespace pagellm
