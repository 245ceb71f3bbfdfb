// Block quantization in the GGUF layouts (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K .. Q6_K) and the per-row
// activation quantization the int8 MatMul kernels use. Portable code, the same on every ISA.
//
//   Q8_0 block (34 bytes, 32 values): f16 d, int8 q[32];           value[i] = d * q[i]
//   Q4_0 block (18 bytes, 32 values): f16 d, uint8 qs[16];         value[i] = d * (nibble_i - 8)
//        nibble_i = qs[i] & 15 for i < 16, qs[i - 16] >> 4 for i >= 16
//   Q4_1 block (20 bytes, 32 values): f16 d, f16 m, uint8 qs[16];  value[i] = d * nibble_i + m
//   Q5_0 block (22 bytes, 32 values): f16 d, uint32 qh (little-endian), uint8 qs[16];
//        q_i = nibble_i | ((qh >> i) & 1) << 4 (0..31);           value[i] = d * (q_i - 16)
//   Q5_1 block (24 bytes, 32 values): f16 d, f16 m, uint32 qh, uint8 qs[16];  value[i] = d * q_i + m
//        (ggml's block_q4_1 / q5_0 / q5_1; f32 arithmetic as ggml: d * q, then + m)
//   IQ4_NL block (18 bytes, 32 values): f16 d, uint8 qs[16] (nibbles as Q4_0);
//        value[i] = d * kIQ4NLValues[nibble_i]                  (ggml's block_iq4_nl)
//
// K-quants (ggml's QK_K = 256 values per super-block; byte layouts exactly ggml's block_q4_K /
// block_q2_K / block_q3_K / block_q5_K / block_q6_K, all multi-byte fields little-endian):
//   Q4_K (144 bytes): f16 d, f16 dmin, uint8 scales[12], uint8 qs[128]. Eight 32-value sub-blocks
//        j with 6-bit scale sc[j] and min m[j] packed in `scales`:
//          j < 4:  sc = scales[j] & 63,  m = scales[j + 4] & 63
//          j >= 4: sc = (scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4,
//                  m  = (scales[j + 4] >> 4) | (scales[j] >> 6) << 4
//        value[64c + t] = d * sc[2c] * (qs[32c + t] & 15) - dmin * m[2c]        (c < 4, t < 32)
//        value[64c + 32 + t] = d * sc[2c + 1] * (qs[32c + t] >> 4) - dmin * m[2c + 1]
//        (computed as in ggml: f32 d * sc and dmin * m first, then one multiply and one subtract).
//   Q5_K (176 bytes): f16 d, f16 dmin, uint8 scales[12] (as Q4_K), uint8 qh[32], uint8 qs[128]:
//        Q4_K with a 5th bit, q = nibble | ((qh[t] >> j) & 1) << 4 (0..31) for value 32j + t of
//        sub-block j (nibbles as Q4_K); value = d * sc[j] * q - dmin * m[j].
//   Q6_K (210 bytes): uint8 ql[128], uint8 qh[64], int8 scales[16], f16 d. Value v = 128h + 32g + t
//        (h < 2, g < 4, t < 32) has the 6-bit q = low | high << 4 with
//          low  = ql[64h + 32(g & 1) + t] & 15 (g < 2) or >> 4 (g >= 2),
//          high = (qh[32h + t] >> 2g) & 3,
//        value[v] = d * scales[v / 16] * (q - 32)           (f32: (d * scale) * (q - 32), as ggml).
//   Q3_K (110 bytes): uint8 hmask[32], uint8 qs[64], uint8 scales[12], f16 d. Value v = 128h + 32g
//        + t (h < 2, g < 4, t < 32) has the 3-bit q = low | high << 2 (0..7) with
//          low  = (qs[32h + t] >> 2g) & 3,   high = (hmask[t] >> (4h + g)) & 1,
//        and 16 6-bit scales (i = v / 16)
//          sc[i] = (scales[i % 8] >> 4(i / 8)) & 15 | ((scales[8 + i % 4] >> 2(i / 4)) & 3) << 4,
//        value[v] = d * (sc[v / 16] - 32) * (q - 4)        (f32: (d * (sc - 32)) * (q - 4), as ggml).
//   Q2_K (84 bytes): uint8 scales[16], uint8 qs[64], f16 d, f16 dmin. Value v = 128h + 32g + t
//        has q = (qs[32h + t] >> 2g) & 3 and, with sc = scales[v / 16],
//        value[v] = d * (sc & 15) * q - dmin * (sc >> 4)   (f32 d * (sc & 15), dmin * (sc >> 4) first).
#pragma once

#include <cstdint>
#include <cstring>

#include "src/base/dtype.h"

namespace pagellm {

inline constexpr int64_t kQuantBlock = 32;  // values per Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 block
inline constexpr int64_t kSuperBlock = 256;  // values per K-quant super-block

// IQ4_NL's 16 levels (ggml's kvalues_iq4nl): a 4-bit index selects one.
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// The ggml structs, byte for byte (documentation and sizes; code reads them through memcpy /
// byte offsets, rows are only 2-byte aligned).
struct BlockQ4K {
  uint16_t d;           // f16 scale of the sub-block scales
  uint16_t dmin;        // f16 scale of the sub-block mins
  uint8_t scales[12];   // 8 x (6-bit scale, 6-bit min), packed as above
  uint8_t qs[128];      // 4-bit values
};
static_assert(sizeof(BlockQ4K) == 144);
struct BlockQ5K {
  uint16_t d;           // f16 scale of the sub-block scales
  uint16_t dmin;        // f16 scale of the sub-block mins
  uint8_t scales[12];   // 8 x (6-bit scale, 6-bit min), packed as Q4_K
  uint8_t qh[32];       // 5th bits: bit j of qh[t] for value 32j + t
  uint8_t qs[128];      // low 4 bits, as Q4_K
};
static_assert(sizeof(BlockQ5K) == 176);
struct BlockQ6K {
  uint8_t ql[128];     // low 4 bits
  uint8_t qh[64];      // high 2 bits
  int8_t scales[16];   // one per 16 values
  uint16_t d;          // f16 super-block scale
};
static_assert(sizeof(BlockQ6K) == 210);

// The 16 6-bit scales (0..63, stored + 32) of a Q3_K block (its `scales` field decoded), as 32-bit
// word operations on the 12 bytes like ggml's (also used by the SIMD kernels).
inline void UnpackQ3KScales(const uint8_t* scales12, uint8_t sc[16]) {
  uint32_t a[3], aux[4];
  std::memcpy(a, scales12, 12);
  aux[0] = (a[0] & 0x0f0f0f0fu) | ((a[2] >> 0) & 0x03030303u) << 4;
  aux[1] = (a[1] & 0x0f0f0f0fu) | ((a[2] >> 2) & 0x03030303u) << 4;
  aux[2] = ((a[0] >> 4) & 0x0f0f0f0fu) | ((a[2] >> 4) & 0x03030303u) << 4;
  aux[3] = ((a[1] >> 4) & 0x0f0f0f0fu) | ((a[2] >> 6) & 0x03030303u) << 4;
  std::memcpy(sc, aux, 16);  // little-endian: byte i of the words is scale i
}

// The 6-bit scales and mins of a Q4_K / Q5_K block's sub-blocks (the `scales` field decoded).
void UnpackQ4KScales(const uint8_t* scales12, uint8_t sc[8], uint8_t m[8]);

// Quantizes k values (k a multiple of the block size) into blocks of `dtype`:
//   Q8_0: d = max|x| / 127 (stored as f16), q = clamp(round(x / d), -127, 127).
//   Q4_0: the value of largest magnitude v maps to nibble 0 (d = v / -8, stored as f16),
//         nibble = clamp(round(x / d) + 8, 0, 15).
//   Q5_0: as Q4_0 with 32 levels: d = v / -16, q = clamp(round(x / d) + 16, 0, 31).
//   IQ4_NL: the value of largest magnitude v maps to level -127 (d = v / -127, stored as f16),
//         each value to the nearest level of x / d (plain nearest: ggml's quantizer searches d).
//   Q4_1 / Q5_1: m = min(x), d = (max(x) - min(x)) / 15 resp. / 31 (both stored as f16), then
//         q = clamp(round((x - m) / d), 0, 15 resp. 31) with the stored d and m.
//   Q4_K: per 32-sub-block the range [min(x, 0), max(x)] in 15 steps, its scale and -min rounded
//         to 6 bits of the super-block's d = max scale / 63 and dmin = max -min / 63 (f16), then
//         q = clamp(round((x + dmin * m) / (d * sc)), 0, 15). Plain round to nearest (ggml's
//         quantizer searches the scales; the format is the same).
//   Q5_K: as Q4_K with 31 steps and q clamped to [0, 31].
//   Q6_K: per 16 values the one of largest magnitude maps to -32 (s = v / -32), the scales
//         rounded to int8 of d = max|s| / 127, q = clamp(round(x / (d * sc)), -32, 31).
//   Q2_K: per 16 values the range [min(x, 0), max(x)] in 3 steps, scale and -min rounded to 4
//         bits of d = max step / 15 and dmin = max -min / 15 (f16), q = clamp(round((x + dmin *
//         m) / (d * sc)), 0, 3).
//   Q3_K: like Q6_K with 8 levels and 6-bit scales: s = v / -4, sc = clamp(round(s / d), -32, 31)
//         with d = max|s| / 31 (stored sc + 32), q = clamp(round(x / (d * sc)), -4, 3).
// Non-finite inputs give a NaN scale (the block reads back as NaN).
void QuantizeRow(DType dtype, const float* x, int64_t k, uint8_t* out);

// out[i] = the i-th of k values stored in `dtype` at `in` (F32, F16, BF16, Q8_0, Q4_0, Q5_0,
// IQ4_NL exactly; Q4_1, Q5_1 and the K-quants with ggml's f32 arithmetic, as ggml's
// dequantize_row_*). For block types k is a multiple of the block size.
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

// Q5_0x16 (DType::kQ5_0x16), the same for a Q5_0 matrix: per group g and block b, 352 bytes: the
//   16 f16 scales, then the 16 rows' qh (4 bytes each, lane j = row 16g + j), then for i = 0..3,
//   for j = 0..15: qs[row 16g + j][b][4i .. 4i + 3] (as Q4_0x16). Bit 4i + t (elements 4i + t) and
//   16 + 4i + t of lane j's qh are the 5th bits of that run's low and high nibbles.
void RepackQ5_0x16(const uint8_t* q5 /*[n, k] Q5_0*/, int64_t n, int64_t k, uint8_t* out);
void UnpackQ5_0x16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q5 /*[n, k] Q5_0*/);
// IQ4_NLx16 (DType::kIQ4_NLx16): an IQ4_NL matrix in Q4_0x16's layout (the same block bytes).
void RepackIQ4_NLx16(const uint8_t* iq4 /*[n, k] IQ4_NL*/, int64_t n, int64_t k, uint8_t* out);
void UnpackIQ4_NLx16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* iq4 /*[n, k] IQ4_NL*/);

// Q8_0x16 (DType::kQ8_0x16), the same for a Q8_0 matrix: per group g and block b, 544 bytes:
//   16 f16 scales, then for i = 0..7, for j = 0..15: (q[row 16g + j][b][4i .. 4i + 3] + 128) as
//   unsigned bytes (vpdpbusd's unsigned operand; the kernel subtracts 128 * sum(qx)).
void RepackQ8_0x16(const uint8_t* q8 /*[n, k] Q8_0*/, int64_t n, int64_t k, uint8_t* out);
void UnpackQ8_0x16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q8 /*[n, k] Q8_0*/);

// Q4_Kx16 (DType::kQ4_Kx16), the same for a Q4_K matrix: per group g and super-block s, 2304 bytes:
//   16 f16 d, 16 f16 dmin, then for i = 0..2, for j = 0..15: the packed 6-bit scales / mins bytes
//   4i .. 4i + 3 of row 16g + j, then for i = 0..31, for j = 0..15: qs[4i .. 4i + 3] of that row.
// One 64-byte load of run i (of pair p = i / 8, c = i % 8) holds in lane j the nibbles of elements
// 64p + 4c .. +3 (low, sub-block 2p) and 64p + 32 + 4c .. +3 (high, sub-block 2p + 1) of row 16g + j;
// the three scale loads decode all 16 rows' scales and mins at once.
void RepackQ4_Kx16(const uint8_t* q4k /*[n, k] Q4_K*/, int64_t n, int64_t k, uint8_t* out);
void UnpackQ4_Kx16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q4k /*[n, k] Q4_K*/);

// Q5_Kx16 (DType::kQ5_Kx16), the same for a Q5_K matrix: per group g and super-block s, 2816 bytes:
//   16 f16 d, 16 f16 dmin, then 43 runs of 64 bytes, each the 4-byte run r (bytes 4 + 4r .. 7 + 4r
//   of a Q5_K block) of rows 16g + 0 .. 15 in block order: 3 runs of scales, 8 of qh, 32 of qs.
// qs run 8p + c holds in lane j the nibbles of elements 64p + 4c .. +3 (low) and 64p + 32 + 4c ..
// +3 (high); qh run c their 5th bits (bit 2p resp. 2p + 1), the same qh run for every pair p.
void RepackQ5_Kx16(const uint8_t* q5k /*[n, k] Q5_K*/, int64_t n, int64_t k, uint8_t* out);
void UnpackQ5_Kx16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q5k /*[n, k] Q5_K*/);

// Q6_Kx16 (DType::kQ6_Kx16), the same for a Q6_K matrix: per group g and super-block s, 3360 bytes:
//   16 f16 d, then for each half h = 0, 1 of the super-block, 26 runs of 64 bytes, each the 4-byte
//   run r (bytes 4r .. 4r + 3 of a Q6_K block) of rows 16g + 0 .. 15: r = 48 + 2h, 49 + 2h (the
//   half's 8 int8 scales), 32 + 8h .. 39 + 8h (its qh), 16h .. 16h + 15 (its ql). For 32-block t
//   (h = t / 4, quarter q = t % 4) and c = 0..7, ql run 16h + 8(q % 2) + c (nibble q / 2) and qh
//   run 32 + 8h + c (bits 2q, 2q + 1) hold in lane j elements 4c .. 4c + 3 of that 32-block of
//   row 16g + j; elements 0-15 have scale 2t, 16-31 scale 2t + 1. The kernel reads it in order.
void RepackQ6_Kx16(const uint8_t* q6k /*[n, k] Q6_K*/, int64_t n, int64_t k, uint8_t* out);
void UnpackQ6_Kx16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q6k /*[n, k] Q6_K*/);

// The activation quantization of the int8 MatMul kernels: per 32-block b of one row,
//   d[b] = max|x| / 127, q[i] = clamp(round_half_even(x[i] / d[b]), -127, 127)   (0 when d = 0),
// computed in f32 from that row alone (batch invariance). A block with a non-finite value gets
// d = NaN and q = 0, so the dot products it feeds become NaN like an f32 product would.
// k is a multiple of 32; q has k entries, d has k / 32.
void QuantizeActivationRow(const float* x, int64_t k, int8_t* q, float* d);

}  // namespace pagellm
