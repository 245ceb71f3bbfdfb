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

// Q4_0x16 (DType::kQ4_0x16), the AVX512-VNNI layout of a Q4_0 matrix [n, k], n a multiple of 16:
// for each group g of 16 rows (16g .. 16g + 15) and each block b, 288 bytes:
//   16 f16 scales d[row 16g + j][b], j = 0..15, then for i = 0..3, for j = 0..15:
//   qs[row 16g + j][b][4i .. 4i + 3]
// so that one 64-byte load holds, in int32 lane j, the nibbles of elements 4i..4i+3 (low) and
// 16+4i..16+4i+3 (high) of row 16g + j: the operands of vpdpbusd with rows in lanes. Same size as
// the Q4_0 matrix; groups follow each other, blocks in k order inside a group.
inline constexpr int64_t kQ4x16Rows = 16;
void RepackQ4_0x16(const uint8_t* q4 /*[n, k] Q4_0*/, int64_t n, int64_t k, uint8_t* out);
// Inverse of RepackQ4_0x16 (tests, and reading a packed matrix back).
void UnpackQ4_0x16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q4 /*[n, k] Q4_0*/);

// Q8_0x16 (DType::kQ8_0x16), the same for a Q8_0 matrix: per group g and block b, 544 bytes:
//   16 f16 scales, then for i = 0..7, for j = 0..15: (q[row 16g + j][b][4i .. 4i + 3] + 128) as
//   unsigned bytes (vpdpbusd's unsigned operand; the kernel subtracts 128 * sum(qx)).
void RepackQ8_0x16(const uint8_t* q8 /*[n, k] Q8_0*/, int64_t n, int64_t k, uint8_t* out);
void UnpackQ8_0x16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q8 /*[n, k] Q8_0*/);

// The activation quantization of the int8 MatMul kernels: per 32-block b of one row,
//   d[b] = max|x| / 127, q[i] = clamp(round_half_even(x[i] / d[b]), -127, 127)   (0 when d = 0),
// computed in f32 from that row alone (batch invariance). A block with a non-finite value gets
// d = NaN and q = 0, so the dot products it feeds become NaN like an f32 product would.
// k is a multiple of 32; q has k entries, d has k / 32.
void QuantizeActivationRow(const float* x, int64_t k, int8_t* q, float* d);

}  // namespace pagellm
