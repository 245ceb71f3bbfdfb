// Scalar reference kernels: the definition every SIMD kernel is tested against, and the portable
// fallback. Accumulates in double; loops are written for clarity, not speed.
#include <cmath>
#include <cstring>
#include <limits>

#include <vector>

#include "src/base/half.h"
#include "src/kernels/kernels_internal.h"
#include "src/kernels/quantize.h"

namespace pagellm::kernels_internal {
namespace {

// Weight i of a row, exactly (block types: d * q from the f16 scale and the integer).
template <DType kType>
double WeightAt(const uint8_t* row, int64_t i) {
  if constexpr (kType == DType::kQ8_0 || kType == DType::kQ4_0) {
    constexpr int64_t kBlockBytes = kType == DType::kQ8_0 ? 34 : 18;
    const uint8_t* blk = row + (i / 32) * kBlockBytes;
    uint16_t h;
    std::memcpy(&h, blk, 2);
    const int64_t t = i % 32;
    int q;
    if constexpr (kType == DType::kQ8_0) {
      q = static_cast<int8_t>(blk[2 + t]);
    } else {
      q = (t < 16 ? blk[2 + t] & 15 : blk[2 + t - 16] >> 4) - 8;
    }
    return static_cast<double>(F16ToF32(h)) * q;
  } else if constexpr (kType == DType::kF32) {
    float f;
    std::memcpy(&f, row + 4 * i, 4);
    return f;
  } else {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    return kType == DType::kF16 ? F16ToF32(h) : Bf16ToF32(h);
  }
}

template <DType kType>
void MatMul(const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  for (int64_t i = m0; i < m1; ++i) {
    const float* x = a.x + i * a.k;
    for (int64_t j = n0; j < n1; ++j) {
      const uint8_t* w = a.w + static_cast<uint64_t>(j) * a.w_row_bytes;
      double acc = 0.0;
      for (int64_t kk = 0; kk < a.k; ++kk) acc += static_cast<double>(x[kk]) * WeightAt<kType>(w, kk);
      if (a.bias != nullptr) acc += a.bias[j];
      float& out = a.y[i * a.n + j];
      out = a.accumulate ? static_cast<float>(acc + out) : static_cast<float>(acc);
    }
  }
}

// K-quants (Q2_K .. Q6_K), Q4_1 / Q5_0 / Q5_1 and IQ4_NL: each weight row dequantized to f32 as ggml does
// (DequantizeRow), then the same double dot as above.
void MatMulDequant(DType dtype, const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  thread_local std::vector<float> w;
  w.resize(static_cast<size_t>(a.k));
  for (int64_t j = n0; j < n1; ++j) {
    DequantizeRow(dtype, a.w + static_cast<uint64_t>(j) * a.w_row_bytes, a.k, w.data());
    for (int64_t i = m0; i < m1; ++i) {
      const float* x = a.x + i * a.k;
      double acc = 0.0;
      for (int64_t kk = 0; kk < a.k; ++kk) acc += static_cast<double>(x[kk]) * w[kk];
      if (a.bias != nullptr) acc += a.bias[j];
      float& out = a.y[i * a.n + j];
      out = a.accumulate ? static_cast<float>(acc + out) : static_cast<float>(acc);
    }
  }
}

template <DType kType>
void MatMulK(const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  MatMulDequant(kType, a, m0, m1, n0, n1);
}

void RmsNorm(const float* x, int64_t m, int64_t d, const float* weight, float eps, float* out) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xr = x + i * d;
    float* o = out + i * d;
    double ss = 0.0;
    for (int64_t j = 0; j < d; ++j) ss += static_cast<double>(xr[j]) * xr[j];
    const double scale = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
    for (int64_t j = 0; j < d; ++j) o[j] = static_cast<float>(xr[j] * scale * weight[j]);
  }
}

void Rope(float* x, int64_t m, int64_t num_heads, int64_t head_dim, int64_t row_stride,
          const float* table, RopePairing pairing) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < m; ++i) {
    const float* c = table + i * 2 * head_dim;
    const float* s = c + head_dim;
    for (int64_t h = 0; h < num_heads; ++h) {
      float* p = x + i * row_stride + h * head_dim;
      float in[kMaxKernelHeadDim];  // Precondition: head_dim <= kMaxKernelHeadDim (model validation)
      std::memcpy(in, p, static_cast<size_t>(head_dim) * sizeof(float));
      for (int64_t e = 0; e < head_dim; ++e) {
        const int64_t partner =
            pairing == RopePairing::kNeox ? (e < half ? e + half : e - half) : (e ^ 1);
        const float a = in[e] * c[e];
        const float b = in[partner] * s[e];
        p[e] = a + b;
      }
    }
  }
}

void SiluMul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void Softmax(float* x, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    float* r = x + i * n;
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < n; ++j) mx = std::max<double>(mx, r[j]);
    double sum = 0.0;
    for (int64_t j = 0; j < n; ++j) sum += std::exp(r[j] - mx);
    for (int64_t j = 0; j < n; ++j) r[j] = static_cast<float>(std::exp(r[j] - mx) / sum);
  }
}

// One query at a time, one key at a time, online softmax in double.
void Attention(const PagedAttentionArgs& a, int64_t t, int64_t kv_head) {
  const int64_t hd = a.head_dim;
  const int64_t group = a.num_heads / a.num_kv_heads;
  const int64_t pos = a.positions[t];
  const BlockTableView table = a.block_tables[a.seq_idx[t]];
  for (int64_t g = 0; g < group; ++g) {
    const int64_t h = kv_head * group + g;
    const float* q = a.q + t * a.q_stride + h * hd;
    double acc[kMaxKernelHeadDim] = {};
    double mx = -std::numeric_limits<double>::infinity();
    double l = 0.0;
    for (int64_t p = 0; p <= pos; ++p) {
      const int64_t block = table[p / a.block_size];
      const int64_t base = ((block * a.num_kv_heads + kv_head) * a.block_size + p % a.block_size) * hd;
      const float* k = a.k_cache + base;
      const float* v = a.v_cache + base;
      double s = 0.0;
      for (int64_t e = 0; e < hd; ++e) s += static_cast<double>(q[e]) * k[e];
      s *= a.scale;
      if (s > mx) {
        const double alpha = std::exp(mx - s);
        for (int64_t e = 0; e < hd; ++e) acc[e] *= alpha;
        l *= alpha;
        mx = s;
      }
      const double w = std::exp(s - mx);
      l += w;
      for (int64_t e = 0; e < hd; ++e) acc[e] += w * v[e];
    }
    float* o = a.out + (t * a.num_heads + h) * hd;
    for (int64_t e = 0; e < hd; ++e) o[e] = static_cast<float>(acc[e] / l);
  }
}

constexpr KernelTable MakeTable() {
  KernelTable t;
  t.isa = KernelIsa::kScalar;
  t.matmul[static_cast<int>(DType::kF32)] = &MatMul<DType::kF32>;
  t.matmul[static_cast<int>(DType::kF16)] = &MatMul<DType::kF16>;
  t.matmul[static_cast<int>(DType::kBF16)] = &MatMul<DType::kBF16>;
  // Block types: f32 activations (not quantized), dequantized weights, double accumulation.
  t.matmul[static_cast<int>(DType::kQ8_0)] = &MatMul<DType::kQ8_0>;
  t.matmul[static_cast<int>(DType::kQ4_0)] = &MatMul<DType::kQ4_0>;
  t.matmul[static_cast<int>(DType::kQ4_K)] = &MatMulK<DType::kQ4_K>;
  t.matmul[static_cast<int>(DType::kQ2_K)] = &MatMulK<DType::kQ2_K>;
  t.matmul[static_cast<int>(DType::kQ3_K)] = &MatMulK<DType::kQ3_K>;
  t.matmul[static_cast<int>(DType::kQ5_K)] = &MatMulK<DType::kQ5_K>;
  t.matmul[static_cast<int>(DType::kQ6_K)] = &MatMulK<DType::kQ6_K>;
  t.matmul[static_cast<int>(DType::kQ4_1)] = &MatMulK<DType::kQ4_1>;
  t.matmul[static_cast<int>(DType::kQ5_0)] = &MatMulK<DType::kQ5_0>;
  t.matmul[static_cast<int>(DType::kQ5_1)] = &MatMulK<DType::kQ5_1>;
  t.matmul[static_cast<int>(DType::kIQ4_NL)] = &MatMulK<DType::kIQ4_NL>;
  t.rms_norm = &RmsNorm;
  t.rope = &Rope;
  t.silu_mul = &SiluMul;
  t.softmax = &Softmax;
  t.attention = &Attention;
  return t;
}

constexpr KernelTable kTable = MakeTable();

}  // namespace

const KernelTable& ScalarTable() { return kTable; }

}  // namespace pagellm::kernels_internal
