// Random-weight models: tensors filled from a seeded normal distribution, stored in any float dtype.
#include "src/model/random_model_testutil.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "src/base/check.h"
#include "src/base/half.h"

namespace pagellm::testing {
namespace {

class Filler {
 public:
  Filler(ModelWeights& w, uint64_t seed, bool fast) : w_(w), rng_(seed), fast_(fast), state_(seed | 1) {}

  // A [dims] tensor of `dtype` holding mean + stddev * N(0, 1) values.
  TensorView Make(DType dtype, std::initializer_list<int64_t> dims, double mean, double stddev) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    const size_t elem = dtype == DType::kF32 ? 4 : 2;
    // Precondition: plain float dtypes only.
    CHECK(dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16);
    auto* out = static_cast<uint8_t*>(w_.Allocate(static_cast<size_t>(n) * elem));
    std::normal_distribution<double> dist(mean, stddev);
    const float half_width = static_cast<float>(stddev * std::sqrt(3.0));
    for (int64_t i = 0; i < n; ++i) {
      const float v = fast_ ? static_cast<float>(mean) + half_width * FastUniform() : static_cast<float>(dist(rng_));
      if (dtype == DType::kF32) {
        std::memcpy(out + 4 * i, &v, 4);
      } else {
        const uint16_t h = dtype == DType::kF16 ? F32ToF16(v) : F32ToBf16(v);
        std::memcpy(out + 2 * i, &h, 2);
      }
    }
    return MakeView(dtype, out, dims);
  }

  TensorView Matrix(DType dtype, int64_t out, int64_t in) {
    return Make(dtype, {out, in}, 0.0, 1.0 / std::sqrt(static_cast<double>(in)));
  }
  TensorView Norm(int64_t n) { return Make(DType::kF32, {n}, 1.0, 0.1); }
  TensorView Bias(int64_t n) { return Make(DType::kF32, {n}, 0.0, 0.1); }

  TensorView Uniform(int64_t n, float lo, float hi) {
    auto* out = static_cast<float*>(w_.Allocate(static_cast<size_t>(n) * 4));
    std::uniform_real_distribution<float> dist(lo, hi);
    for (int64_t i = 0; i < n; ++i) out[i] = dist(rng_);
    return MakeView(DType::kF32, out, {n});
  }

 private:
  // Uniform in [-1, 1).
  float FastUniform() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return static_cast<float>(static_cast<int32_t>(state_ >> 32)) * 0x1p-31f;
  }

  ModelWeights& w_;
  std::mt19937_64 rng_;
  bool fast_;
  uint64_t state_;
};

}  // namespace

ModelWeights MakeRandomWeights(const ModelConfig& c, const RandomWeightsOptions& o) {
  ModelWeights w;
  Filler f(w, o.seed, o.fast);
  const int64_t h = c.hidden_size;
  w.embed = f.Make(o.embed_dtype, {c.vocab_size, h}, 0.0, 1.0);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    LayerWeights lw;
    lw.attn_norm = f.Norm(h);
    lw.wq = f.Matrix(o.matrix_dtype, c.q_dim(), h);
    lw.wk = f.Matrix(o.matrix_dtype, c.kv_dim(), h);
    lw.wv = f.Matrix(o.matrix_dtype, c.kv_dim(), h);
    if (c.qkv_bias) {
      lw.bq = f.Bias(c.q_dim());
      lw.bk = f.Bias(c.kv_dim());
      lw.bv = f.Bias(c.kv_dim());
    }
    if (c.qk_norm) {
      lw.q_norm = f.Norm(c.head_dim);
      lw.k_norm = f.Norm(c.head_dim);
    }
    lw.wo = f.Matrix(o.matrix_dtype, h, c.q_dim());
    lw.ffn_norm = f.Norm(h);
    lw.w_gate = f.Matrix(o.matrix_dtype, c.intermediate_size, h);
    lw.w_up = f.Matrix(o.matrix_dtype, c.intermediate_size, h);
    lw.w_down = f.Matrix(o.matrix_dtype, h, c.intermediate_size);
    w.layers.push_back(lw);
  }
  w.final_norm = f.Norm(h);
  w.lm_head = c.tie_word_embeddings ? w.embed : f.Matrix(o.matrix_dtype, c.vocab_size, h);
  if (o.rope_freqs) w.rope_freqs = f.Uniform(c.head_dim / 2, 1.0f, 4.0f);
  return w;
}

ModelConfig SmallConfig(int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads,
                        int64_t kv_heads, int64_t head_dim, int64_t vocab) {
  ModelConfig c;
  c.hidden_size = hidden;
  c.intermediate_size = intermediate;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.vocab_size = vocab;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  return c;
}

}  // namespace pagellm::testing
