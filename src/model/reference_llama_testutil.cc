// ReferenceLlama: textbook Llama arithmetic in double, one token at a time (no kernels).
#include "src/model/reference_llama_testutil.h"

#include "src/kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "src/base/check.h"
#include "src/base/half.h"

namespace pagellm::testing {

ReferenceLlama::Matrix ReferenceLlama::Decode(const TensorView& t) {
  CHECK(t.ndim == 2);
  Matrix m;
  m.rows = t.shape[0];
  m.cols = t.shape[1];
  const auto* bytes = static_cast<const uint8_t*>(t.data);
  m.values.resize(static_cast<size_t>(m.rows * m.cols));
  if (IsGgufBlockDType(t.dtype)) {
    // Block types: d * q per value, exact (DequantizeRow; K-quants ggml's f32 arithmetic).
    std::vector<float> row(static_cast<size_t>(m.cols));
    for (int64_t r = 0; r < m.rows; ++r) {
      DequantizeRow(t.dtype, t.row(r), m.cols, row.data());
      for (int64_t c = 0; c < m.cols; ++c) m.values[r * m.cols + c] = row[c];
    }
    return m;
  }
  for (size_t i = 0; i < m.values.size(); ++i) {
    if (t.dtype == DType::kF32) {
      float f;
      std::memcpy(&f, bytes + 4 * i, 4);
      m.values[i] = f;
    } else {
      uint16_t h;
      std::memcpy(&h, bytes + 2 * i, 2);
      CHECK(t.dtype == DType::kF16 || t.dtype == DType::kBF16);
      m.values[i] = t.dtype == DType::kF16 ? F16ToF32(h) : Bf16ToF32(h);
    }
  }
  return m;
}

std::vector<double> ReferenceLlama::DecodeVector(const TensorView& t) {
  if (t.empty()) return {};
  CHECK(t.dtype == DType::kF32 && t.ndim == 1);
  const float* f = t.as<float>();
  return std::vector<double>(f, f + t.shape[0]);
}

ReferenceLlama::ReferenceLlama(const ModelConfig& config, const ModelWeights& w) : config_(config) {
  embed_ = Decode(w.embed);
  lm_head_ = Decode(w.lm_head);
  final_norm_ = DecodeVector(w.final_norm);
  for (const LayerWeights& lw : w.layers) {
    Layer l;
    l.attn_norm = DecodeVector(lw.attn_norm);
    l.ffn_norm = DecodeVector(lw.ffn_norm);
    l.q_norm = DecodeVector(lw.q_norm);
    l.k_norm = DecodeVector(lw.k_norm);
    l.bq = DecodeVector(lw.bq);
    l.bk = DecodeVector(lw.bk);
    l.bv = DecodeVector(lw.bv);
    l.wq = Decode(lw.wq);
    l.wk = Decode(lw.wk);
    l.wv = Decode(lw.wv);
    l.wo = Decode(lw.wo);
    l.w_gate = Decode(lw.w_gate);
    l.w_up = Decode(lw.w_up);
    l.w_down = Decode(lw.w_down);
    layers_.push_back(std::move(l));
  }

  // RoPE frequencies, following Hugging Face's rope init functions (default, linear, llama3) and
  // llama.cpp's rope_freqs (per-frequency divisors).
  const int64_t d = config.head_dim;
  const std::vector<double> rope_freqs = DecodeVector(w.rope_freqs);
  const RopeScaling& rs = config.rope_scaling;
  for (int64_t i = 0; i < d / 2; ++i) {
    double f = 1.0 / std::pow(config.rope_theta, static_cast<double>(2 * i) / static_cast<double>(d));
    if (!rope_freqs.empty()) {
      f = f / rope_freqs[i];
    } else if (rs.type == RopeScaling::Type::kLlama3) {
      const double low_freq_wavelen = rs.original_max_position_embeddings / rs.low_freq_factor;
      const double high_freq_wavelen = rs.original_max_position_embeddings / rs.high_freq_factor;
      const double wavelen = 2 * std::numbers::pi / f;
      double scaled = wavelen > low_freq_wavelen ? f / rs.factor : f;
      const double smooth_factor = (rs.original_max_position_embeddings / wavelen - rs.low_freq_factor) /
                                   (rs.high_freq_factor - rs.low_freq_factor);
      const double smoothed = (1 - smooth_factor) * scaled / rs.factor + smooth_factor * scaled;
      const bool is_medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
      f = is_medium ? smoothed : scaled;
    }
    if (rs.type == RopeScaling::Type::kLinear) f /= rs.factor;
    inv_freq_.push_back(f);
  }
}

ReferenceLlama::Sequence ReferenceLlama::NewSequence() const {
  Sequence s;
  s.k.resize(config_.num_layers);
  s.v.resize(config_.num_layers);
  return s;
}

std::vector<double> ReferenceLlama::Apply(const Matrix& m, const std::vector<double>& x) {
  CHECK(static_cast<int64_t>(x.size()) == m.cols);
  std::vector<double> y(m.rows, 0.0);
  for (int64_t r = 0; r < m.rows; ++r) {
    double acc = 0.0;
    for (int64_t c = 0; c < m.cols; ++c) acc += m.values[r * m.cols + c] * x[c];
    y[r] = acc;
  }
  return y;
}

std::vector<double> ReferenceLlama::Norm(const std::vector<double>& x, const std::vector<double>& w) const {
  double ss = 0.0;
  for (double v : x) ss += v * v;
  const double inv_rms = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + config_.rms_norm_eps);
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] * inv_rms * w[i];
  return out;
}

void ReferenceLlama::Rotate(double* head, int64_t position) const {
  const int64_t d = config_.head_dim;
  for (int64_t i = 0; i < d / 2; ++i) {
    const int64_t a = config_.rope_style == RopeStyle::kNeox ? i : 2 * i;
    const int64_t b = config_.rope_style == RopeStyle::kNeox ? i + d / 2 : 2 * i + 1;
    const double angle = static_cast<double>(position) * inv_freq_[i];
    const double x0 = head[a], x1 = head[b];
    head[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
    head[b] = x1 * std::cos(angle) + x0 * std::sin(angle);
  }
}

std::vector<double> ReferenceLlama::Step(Sequence& seq, TokenId token) const {
  const ModelConfig& c = config_;
  const int64_t d = c.head_dim, pos = seq.length;
  std::vector<double> x(embed_.values.begin() + token * c.hidden_size,
                        embed_.values.begin() + (token + 1) * c.hidden_size);
  for (int64_t li = 0; li < c.num_layers; ++li) {
    const Layer& l = layers_[li];
    const std::vector<double> h = Norm(x, l.attn_norm);
    std::vector<double> q = Apply(l.wq, h), k = Apply(l.wk, h), v = Apply(l.wv, h);
    for (size_t i = 0; i < l.bq.size(); ++i) q[i] += l.bq[i];
    for (size_t i = 0; i < l.bk.size(); ++i) k[i] += l.bk[i];
    for (size_t i = 0; i < l.bv.size(); ++i) v[i] += l.bv[i];
    auto per_head = [&](std::vector<double>& t, int64_t heads, const std::vector<double>& norm) {
      for (int64_t hh = 0; hh < heads; ++hh) {
        if (!norm.empty()) {
          const std::vector<double> one(t.begin() + hh * d, t.begin() + (hh + 1) * d);
          const std::vector<double> normed = Norm(one, norm);
          std::copy(normed.begin(), normed.end(), t.begin() + hh * d);
        }
        Rotate(t.data() + hh * d, pos);
      }
    };
    per_head(q, c.num_heads, c.qk_norm ? l.q_norm : std::vector<double>{});
    per_head(k, c.num_kv_heads, c.qk_norm ? l.k_norm : std::vector<double>{});
    seq.k[li].insert(seq.k[li].end(), k.begin(), k.end());
    seq.v[li].insert(seq.v[li].end(), v.begin(), v.end());

    std::vector<double> attn(c.q_dim(), 0.0);
    const int64_t group = c.num_heads / c.num_kv_heads;
    for (int64_t hh = 0; hh < c.num_heads; ++hh) {
      const int64_t kvh = hh / group;
      std::vector<double> scores(pos + 1);
      for (int64_t p = 0; p <= pos; ++p) {
        double s = 0.0;
        for (int64_t e = 0; e < d; ++e) s += q[hh * d + e] * seq.k[li][p * c.kv_dim() + kvh * d + e];
        scores[p] = s / std::sqrt(static_cast<double>(d));
      }
      const double mx = *std::max_element(scores.begin(), scores.end());
      double total = 0.0;
      for (double& s : scores) total += (s = std::exp(s - mx));
      for (int64_t p = 0; p <= pos; ++p) {
        for (int64_t e = 0; e < d; ++e) {
          attn[hh * d + e] += scores[p] / total * seq.v[li][p * c.kv_dim() + kvh * d + e];
        }
      }
    }
    const std::vector<double> o = Apply(l.wo, attn);
    for (int64_t i = 0; i < c.hidden_size; ++i) x[i] += o[i];

    const std::vector<double> h2 = Norm(x, l.ffn_norm);
    const std::vector<double> g = Apply(l.w_gate, h2), u = Apply(l.w_up, h2);
    std::vector<double> act(g.size());
    for (size_t i = 0; i < g.size(); ++i) act[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
    const std::vector<double> down = Apply(l.w_down, act);
    for (int64_t i = 0; i < c.hidden_size; ++i) x[i] += down[i];
  }
  ++seq.length;
  return Apply(lm_head_, Norm(x, final_norm_));
}

}  // namespace pagellm::testing
