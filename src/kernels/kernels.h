// Kernels: the compute primitives of the forward pass; the only kernel header model code includes.
//
// What each kernel computes (all activations f32, row-major, rows contiguous):
//   MatMul         y[m, n] = x[m, k] . W[n, k]^T (+ bias[n]) (+ y when accumulating).
//                  W is a weight TensorView in its stored dtype (F32, F16, BF16, or the GGUF
//                  block formats Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1, see quantize.h; k a multiple
//                  of 32 for those; or
//                  their 16-row repacks Q8_0x16 / Q4_0x16 where SupportsWeights says so; or the
//                  K-quants Q2_K / Q3_K / Q4_K / Q5_K / Q6_K, k a multiple of 256).
//   RmsNorm        out[i, :] = x[i, :] / sqrt(mean(x[i, :]^2) + eps) * weight[:]      x: [m, d]
//   Rope           rotates pairs of each head of x[m, num_heads, head_dim] by the angles of a
//                  table built once per forward from the token positions (BuildRopeTable).
//   SiluMul        out[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i]
//   Softmax        x[i, :] = exp(x[i, :] - max) / sum(...)                           x: [m, n]
//   EmbeddingLookup out[i, :] = table[tokens[i], :] converted to f32 (exact for F32/F16/BF16;
//                  Q8_0/Q4_0/Q5_0 rows dequantized to d * q, also exact in f32; Q4_1/Q5_1
//                  d * q + m and the K-quants as ggml)
//   StoreKv        writes k/v[m, num_kv_heads * head_dim] into the paged KV at their slots
//   PagedAttention out[t, h, :] = softmax_j(q[t, h, :] . K[j, h / group, :] * scale) V[j, ...]
//                  over keys j = 0..positions[t] of the token's sequence, read block by block
//                  through its block table (causal by position; GQA: group = num_heads /
//                  num_kv_heads query heads share one KV head).
//
// Implementations: a scalar reference of every kernel (double accumulation; also the portable
// fallback), and on x86-64 AVX2 (+FMA+F16C) and AVX-512 (F/BW/VL/DQ) versions. Each ISA is an
// immutable table of function pointers; Kernels::Default() picks one once (cpuid at first use,
// overridable with PAGELLM_KERNELS=scalar|avx2|avx512|avx512bf16 read at that moment) and callers
// hold `const Kernels&`. EmbeddingLookup, StoreKv and BuildRopeTable are exact conversions or
// copies (or double-precision set-up math) and share one portable implementation.
//
// Batch invariance (a hard requirement): the value a kernel computes for one token is bitwise
// independent of the other tokens in the call, their number and the number of threads:
//   - MatMul never splits k. Each y[i, j] is one dot product whose accumulation order depends only
//     on k and the weight dtype: vector lanes accumulate k in steps of the vector width with one
//     FMA per step, the tail goes through a zero-masked load, then a fixed horizontal reduction,
//     then + bias, then + y. GEMV (m = 1) and GEMM tiles run this same sequence per element;
//     threads split only m and n.
//   - PagedAttention handles each (token, query head) alone: keys in position order, block by
//     block, in tiles of up to one vector of keys (16 AVX-512, 8 AVX2, 1 scalar) inside a block,
//     with an online softmax. Query heads of one GQA group share K/V loads but not arithmetic. The
//     order depends only on the position and the block size (a constant of the KV storage), never
//     on how the sequence was chunked or batched.
//   - RmsNorm, Rope, SiluMul and Softmax are row-local with fixed reduction orders.
// Results differ between ISAs (vector widths differ), never within one.
//
// Room to grow without breaking invariance: k-blocking that keeps the vector accumulators (not
// their sums) between blocks, sharing K/V loads across the query tokens of one sequence, fused
// projections.
//
// Block-quantized weights (Q8_0, Q4_0). The scalar reference dequantizes each weight exactly
// (d * q) and takes the dot with the f32 activations in double. The SIMD tables quantize the
// activations instead (like llama.cpp's Q8_0 x Q8_0 / Q4_0 x Q8_0 dots): once per MatMul call,
// row by row, per 32-block to int8 with an f32 scale (QuantizeActivationRow, depends on the row
// alone; the AVX2 / AVX-512 versions are bitwise the same and ran decode 5-20% faster than the
// portable one, which the caller ran alone while the pool waited), then per block an exact int32
// dot (AVX2 vpmaddubsw/vpmaddwd, AVX-512 VNNI vpdpbusd; AVX-512 without VNNI uses the AVX2
// kernel), scaled by dw * dx into f32 lanes with one
// FMA per block (pair), fixed reduction, + bias, + y. Accuracy vs the reference: the activation
// rounding error, at most max|x_block| / 254 per element, i.e. per output
// <= sum_b max|x_b| / 254 * sum_{t in b} |w_t| (plus f32 rounding) - the same order as llama.cpp.
// Repacked layouts Q4_0x16 / Q8_0x16 (quantize.h; VNNI tables only, made by the model at load):
// 16 rows in the 16 lanes of a vector, so a block costs 8 vpdpbusd with no shuffles, scale
// broadcasts or horizontal sums; per output: the exact int32 block dot, then one FMA per block in
// its lane, + bias, + y (no reduction). Same accuracy bound; the MatMul driver splits n at
// multiples of 16 for them.
//
// K-quants (Q2_K .. Q6_K; super-blocks of 256 with 16- (Q2_K, Q3_K, Q6_K) or 32-value (Q4_K,
// Q5_K) sub-block scales, quantize.h). Scalar reference: each row dequantized to f32 exactly as
// ggml does, then the double dot. The SIMD tables use the same per-32-block int8 activations as
// Q4_0: per 32-block (AVX2 vpmaddubsw + vpmaddwd) or pair of 32-blocks (VNNI vpdpbusd) an exact
// int32 dot of the unsigned weights (Q2_K q; Q3_K q + 4, starting from -4 * sum(qx); Q4_K
// nibbles; Q5_K nibble + 5th bit; Q6_K q + 32, starting from -32 * sum(qx); the sums come from
// MatMulArgs::xs), then per lane one FMA with (f32 sub-block scale) * dx; the mins of Q2_K, Q4_K
// and Q5_K are a second FMA of the 4-value activation sums by dmin * m / 128 * dx. Fixed
// reduction, + bias, + y; same accuracy bound as Q4_0. VNNI tables also take Q4_Kx16, Q5_Kx16
// and Q6_Kx16 (quantize.h, made by the model at load like Q4_0x16): per 32-block 8 vpdpbusd with
// rows in lanes, then Q4_K / Q5_K one FMA by (d * sc) * dx and one by dmin * m / 128 times dx *
// (-128 * sum(qx)); Q6_K one FMA per 16-value half by (d * sc) * dx; no reduction (kernels_bench,
// 2 threads: Q4_K GEMV 1.35-1.4x, GEMM 2.9-3.6x the Q4_K kernel; Q6_K GEMV 1.1-1.2x from DRAM
// and 1.6x in cache, GEMM 1.7x; TinyLlama-shape Q4_K_M decode 1.7x, prefill about 3x).
//
// Q4_1 / Q5_0 / Q5_1 / IQ4_NL (32-value blocks, quantize.h). Scalar reference: dequantized rows as
// ggml, the double dot. SIMD: the Q4_0 kernels with other weight loaders: Q5_0 adds the 5th bit
// (AVX2 signed q - 16; VNNI unsigned q, start -16 * sum(qx)); IQ4_NL looks its nibbles up in the
// level table with one byte shuffle (AVX2 signed; VNNI level + 128, start as Q8_0); Q4_1 / Q5_1
// multiply the unsigned q and add the min as a second FMA per block, the 4-value activation sums
// (MatMulArgs::xs) times -m / 128 * dx. Same accuracy bound as Q4_0. VNNI tables also take
// Q5_0x16 and IQ4_NLx16 (quantize.h, made by the model at load like Q4_0x16): Q4_0x16's kernel
// with the 5th bits of 4 values spread to their bytes by one vpermd of a 16-entry table (Q5_0),
// or the nibbles looked up as level + 128 (IQ4_NL).
//
// Accuracy of kAvx512Bf16: identical to kAvx512 except MatMul with BF16 weights, which uses
// AVX512-BF16 `vdpbf16ps`: activations are rounded to bf16 (8-bit mantissa, relative error
// <= 2^-9 per element; once per call, row by row, into a per-thread buffer) before the multiply,
// with f32 accumulation; an accuracy comparable to running the model in bf16 (what HF and
// llama.cpp do with bf16 weights). It is the default where the CPU has AVX512-BF16: BF16 prefill
// GEMM ran 1.6-1.9x faster than kAvx512's exact bf16 -> f32 widening plus f32 FMA (kernels_bench
// m128 shapes, 190-225 -> 330-390 GFLOP/s), decode ~1.2x faster (one row at a time). PAGELLM_KERNELS=avx512
// keeps activations in f32 (as accurate as F32 weights). F32 and F16 weights are unaffected.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "src/base/tensor.h"
#include "src/base/thread_pool.h"
#include "src/base/types.h"

namespace pagellm {

namespace kernels_internal {
struct KernelTable;
}  // namespace kernels_internal

enum class KernelIsa : uint8_t {
  kScalar,      // portable reference
  kAvx2,        // AVX2 + FMA + F16C
  kAvx512,      // AVX-512 F/BW/VL/DQ, f32 activations everywhere
  kAvx512Bf16,  // kAvx512 + vdpbf16ps for BF16-weight MatMul (activations rounded to bf16)
};
std::string_view KernelIsaName(KernelIsa isa);

// How RoPE pairs the dimensions of a head.
enum class RopePairing : uint8_t {
  kNeox,         // (i, i + head_dim / 2), Hugging Face rotate_half
  kInterleaved,  // (2i, 2i + 1), Meta / GGUF "llama"
};

// Inputs of the RoPE inverse frequencies (mirrors the model config; kernels cannot see it).
struct RopeParams {
  enum class Scaling : uint8_t { kNone, kLinear, kLlama3 };
  int64_t head_dim = 0;
  double theta = 10000.0;
  Scaling scaling = Scaling::kNone;
  double factor = 1.0;                              // kLinear, kLlama3
  double low_freq_factor = 1.0;                     // kLlama3
  double high_freq_factor = 4.0;                    // kLlama3
  int64_t original_max_position_embeddings = 8192;  // kLlama3
  std::span<const float> freq_divisors;  // [head_dim / 2] optional (GGUF rope_freqs); replaces kLlama3
};

// inv_freq[i] = theta^(-2i / head_dim), then divided by freq_divisors[i] when given, else adjusted
// by the llama3 rule when kLlama3; then divided by factor when kLinear. [head_dim / 2]
std::vector<double> RopeInverseFrequencies(const RopeParams& params);

// Compact reference to one sequence's block table (logical block -> physical block).
using BlockTableView = std::span<const BlockId>;

struct PagedAttentionArgs {
  const float* q = nullptr;        // [num_tokens, num_heads, head_dim] (row stride q_stride)
  int64_t q_stride = 0;            // floats between tokens in q (>= num_heads * head_dim)
  float* out = nullptr;            // [num_tokens, num_heads, head_dim] contiguous
  const float* k_cache = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim]
  const float* v_cache = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim]
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // divides num_heads
  int64_t head_dim = 0;      // <= kMaxKernelHeadDim
  int64_t block_size = 0;
  float scale = 0.0f;                           // usually 1 / sqrt(head_dim)
  std::span<const int32_t> positions;           // [num_tokens] attends keys 0..positions[t]
  std::span<const int32_t> seq_idx;             // [num_tokens] index into block_tables
  std::span<const BlockTableView> block_tables;  // [num_seqs]
};

inline constexpr int64_t kMaxKernelHeadDim = 256;

// An immutable kernel table for one ISA. Cheap to copy; obtain with Default() or ForIsa().
class Kernels {
 public:
  // The table chosen at first use: PAGELLM_KERNELS if set (and supported), else the best
  // table the CPU supports (kAvx512Bf16 > kAvx512 > kAvx2 > kScalar).
  static const Kernels& Default();
  // The table for `isa`, or nullptr if this CPU or build lacks it.
  static const Kernels* ForIsa(KernelIsa isa);
  // Every ISA ForIsa() accepts on this machine, scalar first.
  static std::vector<KernelIsa> Available();

  KernelIsa isa() const;
  std::string_view name() const { return KernelIsaName(isa()); }
  // Whether MatMul supports weights of this dtype.
  bool SupportsWeights(DType dtype) const;

  // y[m, n] = x[m, k] . w[n, k]^T + bias[n] (bias may be null); with `accumulate`, y += that.
  // Precondition: w is 2-D [n, k] of a supported dtype; x, y do not overlap; y is [m, n].
  void MatMul(ThreadPool& pool, const float* x /*[m, k]*/, int64_t m, const TensorView& w,
              const float* bias /*[n] or null*/, float* y /*[m, n]*/, bool accumulate = false) const;

  // Several MatMuls of one x (e.g. q/k/v, gate/up) in one parallel region; each output gets the
  // same bits as its own MatMul call. Precondition: at most kMaxMatMulOutputs, all of width k.
  struct MatMulOutput {
    TensorView w;                 // [n, k]
    const float* bias = nullptr;  // [n] or null
    float* y = nullptr;           // [m, n]
    bool accumulate = false;
  };
  static constexpr int kMaxMatMulOutputs = 4;
  void MatMul(ThreadPool& pool, const float* x /*[m, k]*/, int64_t m,
              std::span<const MatMulOutput> outputs) const;

  // out[i, :] = x[i, :] * rsqrt(mean(x[i, :]^2) + eps) * weight[:]. In place allowed (out == x).
  void RmsNorm(const float* x /*[m, d]*/, int64_t m, int64_t d, const float* weight /*[d]*/,
               float eps, float* out /*[m, d]*/) const;

  // table[i] = {cos-like[head_dim], sin-like[head_dim]} for positions[i], expanded for `pairing`
  // so that Rope is out = x * C + partner(x) * S. Double-precision angles; the same on every ISA.
  void BuildRopeTable(std::span<const int32_t> positions /*[m]*/,
                      std::span<const double> inv_freq /*[head_dim / 2]*/, RopePairing pairing,
                      float* table /*[m, 2, head_dim]*/) const;
  // Rotates every head of x in place: row i (of `row_stride` floats) holds num_heads heads.
  void Rope(float* x /*[m, row_stride] holding [num_heads, head_dim]*/, int64_t m,
            int64_t num_heads, int64_t head_dim, int64_t row_stride,
            const float* table /*[m, 2, head_dim]*/, RopePairing pairing) const;

  // out[i] = silu(gate[i]) * up[i] for i < n. In place allowed (out == gate or up).
  void SiluMul(const float* gate /*[n]*/, const float* up /*[n]*/, float* out /*[n]*/,
               int64_t n) const;

  // Row-wise softmax in place.
  void Softmax(float* x /*[m, n]*/, int64_t m, int64_t n) const;

  // out[i, :] = table[tokens[i], :] as f32. Precondition: tokens in [0, table.dim(0)).
  void EmbeddingLookup(const TensorView& table /*[vocab, d]*/, std::span<const TokenId> tokens,
                       float* out /*[m, d]*/) const;

  // Copies k[i] and v[i] (all KV heads of token i) to slots[i] of one layer's paged KV.
  // Precondition: slots in [0, num_blocks * block_size).
  void StoreKv(const float* k /*[m, num_kv_heads * head_dim]*/,
               const float* v /*[m, num_kv_heads * head_dim]*/, std::span<const int64_t> slots,
               int64_t num_kv_heads, int64_t head_dim, int64_t block_size,
               float* k_cache /*[num_blocks, num_kv_heads, block_size, head_dim]*/,
               float* v_cache /*[num_blocks, num_kv_heads, block_size, head_dim]*/) const;

  // See the top of this file. Precondition: every block a query reads is in its block table and
  // holds the K/V of those positions.
  void PagedAttention(ThreadPool& pool, const PagedAttentionArgs& args) const;

 private:
  explicit Kernels(const kernels_internal::KernelTable* table) : table_(table) {}
  friend struct KernelsFactory;
  const kernels_internal::KernelTable* table_;
};

}  // namespace pagellm
