// Block quantization in the GGUF layouts (Q8_0, Q4_0) and the per-row activation quantization the
// int8 MatMul kernels use. Portable code, the same on every ISA.
//
//   Q8_0 block (34 bytes, 32 values): f16 d, int8 q[32];           value[i] = d * q[i]
//   Q4_0 block (18 bytes, 32 values): f16 d, uint8 qs[16];         value[i] = d * (nibble_i - 8)
//        nibble_i = qs[i] & 15 for i < 16, qs[i - 16] >> 4 for i >= 16
#pragma once

#include <cstdint>

#include "src/base/dtype.h"

namespace pagellm {

inline constexpr int64_t kQuantBlock = 32;  // values per Q8_0 / Q4_0 block

// Quantizes k values (k a multiple of 32) into k / 32 blocks of `dtype` (kQ8_0 or kQ4_0):
//   Q8_0: d = max|x| / 127 (stored as f16), q = clamp(round(x / d), -127, 127).
//   Q4_0: the value of largest magnitude v maps to nibble 0 (d = v / -8, stored as f16),
//         nibble = clamp(round(x / d) + 8, 0, 15).
// Non-finite inputs give a NaN scale (the block reads back as NaN).
void QuantizeRow(DType dtype, const float* x, int64_t k, uint8_t* out);

// out[i] = the i-th of k values stored in `dtype` at `in` (F32, F16, BF16, Q8_0, Q4_0), exactly.
// For block types k is a multiple of 32.
void DequantizeRow(DType dtype, const uint8_t* in, int64_t k, float* out);

// The activation quantization of the int8 MatMul kernels: per 32-block b of one row,
//   d[b] = max|x| / 127, q[i] = clamp(round_half_even(x[i] / d[b]), -127, 127)   (0 when d = 0),
// computed in f32 from that row alone (batch invariance). A block with a non-finite value gets
// d = NaN and q = 0, so the dot products it feeds become NaN like an f32 product would.
// k is a multiple of 32; q has k entries, d has k / 32.
void QuantizeActivationRow(const float* x, int64_t k, int8_t* q, float* d);

}  // namespace pagellm
