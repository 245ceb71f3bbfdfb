// KernelTable: the per-ISA function table behind Kernels (included only by src/kernels/*.cc).
//
// ISA files compile their code under `#pragma GCC target(...)` placed after every #include, so
// only functions they define themselves (all in anonymous namespaces) use the wider ISA; inline
// functions and templates from headers stay baseline x86-64 and the linker can never pick an
// AVX-512 copy of them for a caller on an older CPU.
#pragma once

#include <cstdint>

#include "src/kernels/kernels.h"

namespace pagellm::kernels_internal {

inline constexpr int kNumDTypes = 22;  // entries of DType (dtype.h)

struct MatMulArgs {
  const float* x = nullptr;    // [m, k]
  const uint8_t* w = nullptr;  // [n] rows of w_row_bytes bytes, each k values of the dtype
  uint64_t w_row_bytes = 0;
  const float* bias = nullptr;  // [n] or null
  float* y = nullptr;           // [m, n]
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  bool accumulate = false;  // y += result instead of y = result
  // Set for kernels with KernelTable::quantized_x: x quantized once per call, row by row
  // (QuantizeActivationRow), each row padded with zero blocks to a multiple of 64 values.
  const int8_t* xq = nullptr;  // [m, xq_stride] int8
  const float* xd = nullptr;   // [m, xq_stride / 32] block scales
  const int32_t* xs = nullptr;  // [m, xq_stride / 4]: -128 * (sum of each 4 consecutive xq)
  const int32_t* xbs = nullptr;  // [m, xq_stride / 32]: -128 * (sum of each 32-block's xq)
  int64_t xq_stride = 0;
  // Set for kernels with KernelTable::bf16_x: x rounded to bf16 once per call (to nearest even),
  // each row padded with zeros to a multiple of kXbAlign values.
  const uint16_t* xb = nullptr;  // [m, xb_stride]
  int64_t xb_stride = 0;
};

// Bf16 activation rows are padded to this many values (one vdpbf16ps step).
inline constexpr int64_t kXbAlign = 32;

// Activation rows for int8 MatMul kernels are padded to this many values (two blocks).
inline constexpr int64_t kXqAlign = 64;

// Computes y[i, j] for i in [m0, m1), j in [n0, n1): one thread's share of a MatMul. The bits of
// each y[i, j] must not depend on the rectangle (see kernels.h, batch invariance).
using MatMulFn = void (*)(const MatMulArgs& args, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

// Computes every query head of KV head `kv_head` for token `token`.
using AttentionFn = void (*)(const PagedAttentionArgs& args, int64_t token, int64_t kv_head);

struct KernelTable {
  KernelIsa isa = KernelIsa::kScalar;
  MatMulFn matmul[kNumDTypes] = {};  // by DType; null = unsupported
  bool quantized_x[kNumDTypes] = {};  // matmul[dtype] reads MatMulArgs::xq / xd instead of x
  bool bf16_x[kNumDTypes] = {};       // matmul[dtype] reads MatMulArgs::xb instead of x
  // Rounds x[0, k) to bf16 (nearest even) into out[0, k) and zero-fills out[k, padded_k); set
  // when some bf16_x entry is.
  void (*round_row_to_bf16)(const float* x, int64_t k, int64_t padded_k, uint16_t* out) = nullptr;
  // Quantizes one activation row for the int8 kernels (MatMulArgs::xq / xd / xs): x[0, k) per
  // 32-block as QuantizeActivationRow does, zero blocks up to padded_k, and sums[g] = -128 *
  // (q[4g] + ... + q[4g + 3]) for g < padded_k / 4. Null: the portable QuantizeRowQ8 (kernels.cc).
  void (*quantize_row_q8)(const float* x, int64_t k, int64_t padded_k, int8_t* q, float* d, int32_t* sums) = nullptr;
  void (*rms_norm)(const float* x, int64_t m, int64_t d, const float* weight, float eps,
                   float* out) = nullptr;
  void (*rope)(float* x, int64_t m, int64_t num_heads, int64_t head_dim, int64_t row_stride,
               const float* table, RopePairing pairing) = nullptr;
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
  void (*softmax)(float* x, int64_t m, int64_t n) = nullptr;
  AttentionFn attention = nullptr;
};

// Defined by kernels_scalar.cc; always present.
const KernelTable& ScalarTable();
// Defined by kernels_avx2.cc / kernels_avx512*.cc; null when not built (non-x86).
const KernelTable* Avx2Table();
const KernelTable* Avx512Table();
// The vdpbf16ps MatMul for BF16 weights (kernels_avx512bf16.cc); null when not built.
MatMulFn Avx512Bf16MatMul();
decltype(KernelTable::round_row_to_bf16) Avx512Bf16RoundRow();
// The portable KernelTable::quantize_row_q8 (every SIMD version must equal it bit for bit).
void QuantizeRowQ8(const float* x, int64_t k, int64_t padded_k, int8_t* q, float* d, int32_t* sums);
// The AVX512-VNNI (vpdpbusd) MatMul for Q8_0 / Q4_0 weights with quantized activations
// (kernels_avx512vnni.cc); null when not built or for other dtypes.
MatMulFn Avx512VnniMatMul(DType dtype);

}  // namespace pagellm::kernels_internal
