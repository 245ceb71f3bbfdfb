// ReferenceLlama: the test oracle for LlamaModel. A naive forward pass written independently of
// the kernels: one sequence, one token at a time, a contiguous KV cache, double precision.
#pragma once

#include <cstdint>
#include <vector>

#include "src/base/types.h"
#include "src/model/config.h"
#include "src/model/weights.h"

namespace pagellm::testing {

class ReferenceLlama {
 public:
  // Decodes every weight to double once. Precondition: config and weights agree (F32/F16/BF16).
  ReferenceLlama(const ModelConfig& config, const ModelWeights& weights);

  struct Sequence {
    std::vector<std::vector<double>> k;  // [num_layers][length * kv_dim]  (after RoPE)
    std::vector<std::vector<double>> v;  // [num_layers][length * kv_dim]
    int64_t length = 0;
  };
  Sequence NewSequence() const;

  // Runs `token` at position seq.length, appends its K/V and returns the logits [vocab_size].
  std::vector<double> Step(Sequence& seq, TokenId token) const;

 private:
  struct Matrix {
    int64_t rows = 0, cols = 0;
    std::vector<double> values;  // [rows, cols]
  };
  struct Layer {
    std::vector<double> attn_norm, ffn_norm, q_norm, k_norm;  // [hidden] / [head_dim]
    std::vector<double> bq, bk, bv;                           // [q_dim] / [kv_dim], empty if none
    Matrix wq, wk, wv, wo, w_gate, w_up, w_down;
  };

  static Matrix Decode(const TensorView& t);
  static std::vector<double> DecodeVector(const TensorView& t);
  static std::vector<double> Apply(const Matrix& m, const std::vector<double>& x);  // m x
  std::vector<double> Norm(const std::vector<double>& x, const std::vector<double>& w) const;
  void Rotate(double* head, int64_t position) const;

  ModelConfig config_;
  Matrix embed_, lm_head_;
  std::vector<double> final_norm_;
  std::vector<Layer> layers_;
  std::vector<double> inv_freq_;  // [head_dim / 2]
};

}  // namespace pagellm::testing
