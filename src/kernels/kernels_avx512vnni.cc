// AVX512-VNNI MatMul for block-quantized weights (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K ..
// Q6_K) with activations quantized to int8 per 32-block (MatMulArgs::xq / xd, made once per call
// by the driver from each row alone).
//
// What it computes, per output y[i, j], over the blocks b of k (value = scale * int [+ min]):
//   y[i, j] = sum_b dw[j, b] * dx[i, b] * sum_{t in b} qw[j, t] * qx[i, t]   (+ bias, + y)
// The inner sums are exact int32 (vpdpbusd). Blocks go in pairs, one zmm of 64 int8 per pair.
//   vpdpbusd multiplies unsigned (first) by signed (second) bytes, so the weights enter unsigned
//   and x signed: Q8_0 as qw + 128 (xor 0x80), IQ4_NL as its level + 128, Q4_0 as the raw nibble
//   (qw + 8), Q5_0 as the 5-bit q (qw + 16). The excess, 128 * sum(qx) resp. 8 or 16 * sum(qx) per
//   group of 4 bytes,
//   depends on x alone: the driver computes -128 * sum (MatMulArgs::xs) once per row, and it is
//   the accumulator's start value.
// The 16 int32 lanes (8 per block) go to f32 and are multiplied by the pair's scales
// (lanes 0-7: dw[b] * dx[b], lanes 8-15: dw[b+1] * dx[b+1]) into one f32 accumulator with an FMA;
// an odd last block fills only lanes 0-7. Q4_1 / Q5_1 (value d * q + m: q unsigned, start 0) add
// the min term m * dx[b] * sum(qx) with a second FMA: the lanes' xs (-128 * 4-value sums) times
// -m[b] / 128 * dx[b] (the -1/128 is exact). Then the fixed ReduceAdd, + bias, + y. The sequence
// is the same for every tile shape and thread split (batch invariance, kernels.h).
#include "src/kernels/kernels_internal.h"
#include "src/kernels/quantize.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#endif

#include "src/kernels/x86_q8_sums_inl.h"

namespace pagellm::kernels_internal {
namespace {

// Horizontal sum in the same fixed order as kernels_avx512.cc.
inline float ReduceAdd(__m512 v) {
  const __m256 s8 = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}

inline uint16_t LoadU16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// The f16 at byte kOffset of blocks (blk, blk + kBytes) as f32 (the scales d, or with kOffset 2
// the mins m): lanes 0-7 the first, 8-15 the second (0 if absent).
template <int kBytes, int kOffset = 0>
inline __m512 PairScales(const uint8_t* blk, bool second) {
  const __m128i h0 = _mm_set1_epi16(static_cast<short>(LoadU16(blk + kOffset)));
  const __m128i h1 = second ? _mm_set1_epi16(static_cast<short>(LoadU16(blk + kBytes + kOffset))) : _mm_setzero_si128();
  return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(h0), h1, 1));
}

// Weight loaders: the 64 values of blocks (blk, blk + kBytes) in element order as unsigned bytes
// qw + kOffset, and the start value of the int32 accumulators from the -128 * sum(qx) groups.
// With `second` false only the first block is read; the upper half is then arbitrary but
// harmless: x is zero there (padding) and so are the second block's scales.
struct Q8W {
  static constexpr int kBytes = 34;
  static constexpr bool kMins = false;
  static __m512i Load(const uint8_t* blk, bool second) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    const __m256i hi = second ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kBytes + 2))
                              : _mm256_setzero_si256();
    const __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    return _mm512_xor_si512(w, _mm512_set1_epi8(static_cast<char>(0x80)));  // qw + 128
  }
  static __m512i Start(__m512i minus128_sums) { return minus128_sums; }
};
// The nibbles of the 16-byte qs at `qs` (block 0) and `qs + kBytes` (block 1, if `second`) in
// element order: t = [qs0 | qs1]; z = [lo(qs0), lo(qs1), hi(qs0), hi(qs1)], then 128-bit lanes
// reordered to [lo(qs0), hi(qs0), lo(qs1), hi(qs1)] (byte e = element e of the pair).
template <int kBytes>
inline __m512i PairNibbles(const uint8_t* qs, bool second) {
  const __m128i qs0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i qs1 = second ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + kBytes)) : _mm_setzero_si128();
  const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(qs0), qs1, 1);
  const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1);
  const __m512i nib = _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
  return _mm512_shuffle_i64x2(nib, nib, _MM_SHUFFLE(3, 1, 2, 0));
}
// nib | the 5th bits (0x10) of the pair: bit e of the 64-bit mask [qh0 | qh1 << 32] is element e's.
template <int kBytes>
inline __m512i WithFifthBits(__m512i nib, const uint8_t* qh, bool second) {
  uint32_t h0, h1 = 0;
  std::memcpy(&h0, qh, 4);
  if (second) std::memcpy(&h1, qh + kBytes, 4);
  const __mmask64 bits = static_cast<__mmask64>(h0) | static_cast<__mmask64>(h1) << 32;
  return _mm512_or_si512(nib, _mm512_maskz_set1_epi8(bits, 0x10));
}
struct Q4W {
  static constexpr int kBytes = 18;
  static constexpr bool kMins = false;
  static __m512i Load(const uint8_t* blk, bool second) { return PairNibbles<kBytes>(blk + 2, second); }
  static __m512i Start(__m512i minus128_sums) { return _mm512_srai_epi32(minus128_sums, 4); }  // -8 * sum
};
struct Q50W {
  static constexpr int kBytes = 22;
  static constexpr bool kMins = false;
  static __m512i Load(const uint8_t* blk, bool second) {
    return WithFifthBits<kBytes>(PairNibbles<kBytes>(blk + 6, second), blk + 2, second);
  }
  static __m512i Start(__m512i minus128_sums) { return _mm512_srai_epi32(minus128_sums, 3); }  // -16 * sum
};
// IQ4_NL: the nibbles looked up in the level table + 128 (1 .. 241, unsigned), start as Q8_0.
struct IQ4NLW {
  static constexpr int kBytes = 18;
  static constexpr bool kMins = false;
  static __m512i Load(const uint8_t* blk, bool second) {
    const __m128i levels = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues)),
                                         _mm_set1_epi8(static_cast<char>(0x80)));  // level + 128
    return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(levels), PairNibbles<kBytes>(blk + 2, second));
  }
  static __m512i Start(__m512i minus128_sums) { return minus128_sums; }
};
// Value d * q + m (m the f16 at byte 2): q unsigned as it is, start 0, the min term added apart.
struct Q41W {
  static constexpr int kBytes = 20;
  static constexpr bool kMins = true;
  static __m512i Load(const uint8_t* blk, bool second) { return PairNibbles<kBytes>(blk + 4, second); }
  static __m512i Start(__m512i) { return _mm512_setzero_si512(); }
};
struct Q51W {
  static constexpr int kBytes = 24;
  static constexpr bool kMins = true;
  static __m512i Load(const uint8_t* blk, bool second) {
    return WithFifthBits<kBytes>(PairNibbles<kBytes>(blk + 8, second), blk + 4, second);
  }
  static __m512i Start(__m512i) { return _mm512_setzero_si512(); }
};

// A tile's rows i0 .. i0 + R - 1 of the quantized activations (MatMulArgs::xq / xd / xs); rows
// from `rows` on repeat the last valid one.
template <int R>
struct XRows {
  const int8_t* q[R];   // int8 values
  const float* d[R];    // per-32-block scales
  const int32_t* s[R];  // -128 * 4-value sums
  const int32_t* bs[R];  // -128 * 32-block sums
  XRows(const MatMulArgs& a, int64_t i0, int rows) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const int64_t i = i0 + (r < rows ? r : rows - 1);
      q[r] = a.xq + i * a.xq_stride;
      d[r] = a.xd + i * (a.xq_stride / 32);
      s[r] = a.xs + i * (a.xq_stride / 4);
      bs[r] = a.xbs + i * (a.xq_stride / 32);
    }
  }
};

// One block pair p of R x rows and C weight rows into acc. `second`: the pair has two blocks.
template <class W, int R, int C>
inline void PairStep(const MatMulArgs& a, const XRows<R>& x, const uint8_t* const* w, int64_t p, bool second,
                     __m512 (&acc)[R][C]) {
  __m512i xv[R], start[R];
  __m512 dx[R], xsf[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    xv[r] = _mm512_loadu_si512(x.q[r] + p * 64);
    const __m512i sums = _mm512_loadu_si512(x.s[r] + p * 16);
    start[r] = W::Start(sums);
    if constexpr (W::kMins) xsf[r] = _mm512_cvtepi32_ps(sums);
    const float d1 = second ? x.d[r][2 * p + 1] : 0.0f;
    dx[r] = _mm512_insertf32x8(_mm512_set1_ps(x.d[r][2 * p]), _mm256_set1_ps(d1), 1);
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    const uint8_t* blk = w[c] + 2 * p * W::kBytes;
    // GEMV streams weights from DRAM: prefetch the same pair of the next tile's rows.
    if constexpr (R == 1) _mm_prefetch(reinterpret_cast<const char*>(blk + C * a.w_row_bytes), _MM_HINT_T0);
    if constexpr (R == 1) _mm_prefetch(reinterpret_cast<const char*>(blk + C * a.w_row_bytes + 63), _MM_HINT_T0);
    const __m512i wv = W::Load(blk, second);
    const __m512 dw = PairScales<W::kBytes>(blk, second);
    __m512 mw = _mm512_setzero_ps();  // -m / 128 per lane
    if constexpr (W::kMins) mw = _mm512_mul_ps(PairScales<W::kBytes, 2>(blk, second), _mm512_set1_ps(-1.0f / 128.0f));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512i dot = _mm512_dpbusd_epi32(start[r], wv, xv[r]);  // sum qx * qw, exact
      acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, dx[r]), acc[r][c]);
      if constexpr (W::kMins) acc[r][c] = _mm512_fmadd_ps(xsf[r], _mm512_mul_ps(mw, dx[r]), acc[r][c]);
    }
  }
}

// y[i0 .. i0+rows, j0 .. j0+cols] for an R x C register tile; rows/columns beyond rows/cols
// repeat the last valid one and are not stored.
template <class W, int R, int C>
inline void Tile(const MatMulArgs& a, int64_t i0, int rows, int64_t j0, int cols) {
  const XRows<R> x(a, i0, rows);
  const uint8_t* w[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) w[c] = a.w + static_cast<uint64_t>(j0 + (c < cols ? c : cols - 1)) * a.w_row_bytes;
  __m512 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const int64_t blocks = a.k / 32;
  const int64_t full_pairs = blocks / 2;
  for (int64_t p = 0; p < full_pairs; ++p) PairStep<W, R, C>(a, x, w, p, true, acc);
  if (blocks % 2 != 0) PairStep<W, R, C>(a, x, w, full_pairs, false, acc);
  for (int r = 0; r < rows; ++r) {
    float* y = a.y + (i0 + r) * a.n + j0;
    for (int c = 0; c < cols; ++c) {
      float v = ReduceAdd(acc[r][c]);
      if (a.bias != nullptr) v += a.bias[j0 + c];
      y[c] = a.accumulate ? y[c] + v : v;
    }
  }
}

// GEMV: 8 weight rows at a time (kernels_bench: 5-20% faster than 4, 16 slower); otherwise 4 x 4
// tiles, sweeping every x row of the rectangle per group of 4 weight rows.
template <class W>
void MatMulQ(const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (m1 - m0 == 1) {
    for (int64_t j = n0; j < n1; j += 8) Tile<W, 1, 8>(a, m0, 1, j, static_cast<int>(std::min<int64_t>(8, n1 - j)));
    return;
  }
  for (int64_t j = n0; j < n1; j += 4) {
    const int cols = static_cast<int>(std::min<int64_t>(4, n1 - j));
    int64_t i = m0;
    for (; i + 4 <= m1; i += 4) Tile<W, 4, 4>(a, i, 4, j, cols);
    switch (m1 - i) {
      case 3: Tile<W, 3, 4>(a, i, 3, j, cols); break;
      case 2: Tile<W, 2, 4>(a, i, 2, j, cols); break;
      case 1: Tile<W, 1, 4>(a, i, 1, j, cols); break;
      default: break;
    }
  }
}


// --- Q4_0x16 / Q8_0x16: rows in lanes (quantize.h, RepackQ4_0x16 / RepackQ8_0x16) ------------
// Per output y[i, j] (j = 16g + lane), over the blocks b of k in order:
//   isum = -off * sum(qx[i, b]) + sum_t uw[j, b, t] * qx[i, b, t]              (exact int32)
//   acc  = fma(float(isum), d[j, b] * dx[i, b], acc)                           (f32, one lane)
// with uw the unsigned stored weight (Q4_0: the nibble, off 8; Q8_0: q + 128, off 128); then
// + bias, + y. No horizontal reduction. The integer sum is exact, so its 8 vpdpbusd steps may run
// in two chains; the float sequence is the same for every tile shape and thread split.


struct Q4x16 {
  static constexpr int64_t kRecord = 288;  // one (16-row group, block) record
  static int32_t Start(int32_t minus128_sum) { return minus128_sum >> 4; }  // exact: -8 * sum
  // The 8 vpdpbusd operands: u[s] holds elements 4s .. 4s+3 of the 16 rows.
  static void Unpack(const uint8_t* rec, __m512i (&u)[8]) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const __m512i p = _mm512_loadu_si512(rec + 32 + 64 * i);
      u[i] = _mm512_and_si512(p, low4);                          // elements 4i .. 4i+3
      u[i + 4] = _mm512_and_si512(_mm512_srli_epi16(p, 4), low4);  // elements 16+4i .. 16+4i+3
    }
  }
};
// Q5_0x16: Q4_0x16's nibbles (after the 64 bytes of qh) with each lane's 5th bits on top: bits
// 4i .. 4i + 3 (resp. 16 + 4i ..) of the lane's qh go to bit 4 of bytes 0-3 of u[i] (u[i + 4]) by
// one vpermd of a 16-entry table indexed by those 4 bits (vpermd reads the index's low 4 bits).
// q is unsigned 0..31 (qw + 16): start -16 * sum.
struct Q5x16 {
  static constexpr int64_t kRecord = 352;
  static int32_t Start(int32_t minus128_sum) { return minus128_sum >> 3; }  // exact: -16 * sum
  static void Unpack(const uint8_t* rec, __m512i (&u)[8]) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    // spread[x] has bit 4 of byte t set iff bit t of x is.
    const __m512i spread = _mm512_setr_epi32(0x00000000, 0x00000010, 0x00001000, 0x00001010, 0x00100000, 0x00100010,
                                             0x00101000, 0x00101010, 0x10000000, 0x10000010, 0x10001000, 0x10001010,
                                             0x10100000, 0x10100010, 0x10101000, 0x10101010);
    const __m512i qh = _mm512_loadu_si512(rec + 32);
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const __m512i p = _mm512_loadu_si512(rec + 96 + 64 * i);
      const __m512i lo5 = _mm512_permutexvar_epi32(_mm512_srli_epi32(qh, 4 * i), spread);
      const __m512i hi5 = _mm512_permutexvar_epi32(_mm512_srli_epi32(qh, 16 + 4 * i), spread);
      u[i] = _mm512_or_si512(_mm512_and_si512(p, low4), lo5);                           // elements 4i ..
      u[i + 4] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(p, 4), low4), hi5);  // 16 + 4i ..
    }
  }
};
// IQ4_NLx16: Q4_0x16's layout; the nibbles looked up as level + 128 (unsigned), start as Q8_0.
struct IQ4NLx16 {
  static constexpr int64_t kRecord = 288;
  static int32_t Start(int32_t minus128_sum) { return minus128_sum; }
  static void Unpack(const uint8_t* rec, __m512i (&u)[8]) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i levels = _mm512_broadcast_i32x4(_mm_xor_si128(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues)), _mm_set1_epi8(static_cast<char>(0x80))));
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const __m512i p = _mm512_loadu_si512(rec + 32 + 64 * i);
      u[i] = _mm512_shuffle_epi8(levels, _mm512_and_si512(p, low4));
      u[i + 4] = _mm512_shuffle_epi8(levels, _mm512_and_si512(_mm512_srli_epi16(p, 4), low4));
    }
  }
};
struct Q8x16 {
  static constexpr int64_t kRecord = 544;
  static int32_t Start(int32_t minus128_sum) { return minus128_sum; }
  static void Unpack(const uint8_t* rec, __m512i (&u)[8]) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) u[i] = _mm512_loadu_si512(rec + 32 + 64 * i);
  }
};

// The x16 tiles' outputs: y[i0 + r, 16g .. 16g + 15] = acc[r] (+ bias, + y) for r < rows.
template <int R>
inline void StoreGroup(const MatMulArgs& a, const __m512 (&acc)[R], int rows, int64_t i0, int64_t g) {
  for (int r = 0; r < R && r < rows; ++r) {
    float* y = a.y + (i0 + r) * a.n + g * 16;
    __m512 v = acc[r];
    if (a.bias != nullptr) v = _mm512_add_ps(v, _mm512_loadu_ps(a.bias + g * 16));
    if (a.accumulate) v = _mm512_add_ps(_mm512_loadu_ps(y), v);
    _mm512_storeu_ps(y, v);
  }
}

// GEMV: one group (16 weight rows) after the other, so a thread's piece is one sequential stream.
// Interleaved A/B of decode (2 threads, shared host, 2026-12-03): +15-40% over 4 groups at a time
// (Qwen2.5-0.5B Q4_0 94-99 -> 125-136 t/s, TinyLlama Q4_0 38-47 -> 50-62, Q8_0 22-23 -> 25-36).
// Otherwise 4 x rows x 1 group tiles, sweeping every x row of the rectangle per group. The driver
// splits n at multiples of 16 (kNAlign). Tiles::Tile<R>(a, i0, rows, g) is an R-row tile of group g.
template <class Tiles>
void MatMulGroups(const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const int64_t g0 = n0 / 16, g1 = n1 / 16;
  for (int64_t g = g0; g < g1; ++g) {
    int64_t i = m0;
    for (; i + 4 <= m1; i += 4) Tiles::template Tile<4>(a, i, 4, g);
    switch (m1 - i) {
      case 3: Tiles::template Tile<3>(a, i, 3, g); break;
      case 2: Tiles::template Tile<2>(a, i, 2, g); break;
      case 1: Tiles::template Tile<1>(a, i, 1, g); break;
      default: break;
    }
  }
}

// y rows [i0, i0 + rows) x the 16 columns of group g for an R-row tile (extra rows repeat the last
// valid one and are not stored).
template <class W, int R>
inline void TileX16(const MatMulArgs& a, int64_t i0, int rows, int64_t g) {
  const int64_t blocks = a.k / 32;
  const uint8_t* w = a.w + static_cast<uint64_t>(g) * blocks * W::kRecord;
  const XRows<R> x(a, i0, rows);
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    __m512i start[R];
    __m512 dx[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      start[r] = _mm512_set1_epi32(W::Start(x.bs[r][b]));
      dx[r] = _mm512_set1_ps(x.d[r][b]);
    }
    const uint8_t* rec = w + b * W::kRecord;
    if constexpr (R == 1) {
      // GEMV streams weights from DRAM: fetch this group's record 8 records ahead (2.3 KB for
      // Q4_0; without it, decode measured within noise of this).
      const char* next = reinterpret_cast<const char*>(rec + 8 * W::kRecord);
      for (int line = 0; line < W::kRecord; line += 64) _mm_prefetch(next + line, _MM_HINT_T0);
    }
    __m512i u[8];
    W::Unpack(rec, u);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec)));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const int32_t* x4 = reinterpret_cast<const int32_t*>(x.q[r] + 32 * b);
      __m512i s0 = start[r], s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) {
        s0 = _mm512_dpbusd_epi32(s0, u[t], _mm512_set1_epi32(x4[t]));
        s1 = _mm512_dpbusd_epi32(s1, u[t + 4], _mm512_set1_epi32(x4[t + 4]));
      }
      const __m512i isum = _mm512_add_epi32(s0, s1);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, dx[r]), acc[r]);
    }
  }
  StoreGroup<R>(a, acc, rows, i0, g);
}
template <class W>
struct X16Tiles {
  template <int R>
  static void Tile(const MatMulArgs& a, int64_t i0, int rows, int64_t g) { TileX16<W, R>(a, i0, rows, g); }
};

// --- Q4_Kx16 / Q5_Kx16: Q4_K / Q5_K with rows in lanes (quantize.h, RepackQ4_Kx16 / Q5_Kx16) -----
// Per output y[i, j] (j = 16g + lane), over the 32-blocks b of k in order (sub-block t = b % 8 of
// super-block b / 8, with 6-bit scale sc and min m of row j; q the nibble, or for Q5_K the nibble
// with its 5th bit):
//   isum = sum_t q[j, b, t] * qx[i, b, t]                                         (exact int32)
//   acc  = fma(float(isum), (d[j] * sc) * dx[i, b], acc)
//   acc  = fma(dmin[j] * m / 128, dx[i, b] * float(-128 * sum(qx[i, b])), acc)  (the min term)
// then + bias, + y; no horizontal reduction. d * sc and dmin * m / 128 are exact in f32. The
// float sequence is the same for every tile shape and thread split.
template <bool kFive, int R>
inline void TileQ4Kx16(const MatMulArgs& a, int64_t i0, int rows, int64_t g) {
  constexpr int64_t kRecord = kFive ? 2816 : 2304;
  const int64_t supers = a.k / 256;
  const uint8_t* group = a.w + static_cast<uint64_t>(g) * supers * kRecord;
  const XRows<R> x(a, i0, rows);
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0f), low8 = _mm512_set1_epi32(0xff);
  for (int64_t sb = 0; sb < supers; ++sb) {
    const uint8_t* rec = group + sb * kRecord;
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec)));
    const __m512 dmin = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec + 32))),
                                      _mm512_set1_ps(1.0f / 128.0f));
    // The 12 packed scale bytes of each lane's row (ggml's get_scale_min_k4, 16 rows at once):
    // bytes 0-3 of sc_lo / m_lo are sub-blocks 0-3, of sc_hi / m_hi sub-blocks 4-7.
    const __m512i a0 = _mm512_loadu_si512(rec + 64), a1 = _mm512_loadu_si512(rec + 128), a2 = _mm512_loadu_si512(rec + 192);
    const __m512i six = _mm512_set1_epi8(0x3f), two = _mm512_set1_epi8(0x03);
    const __m512i sc_lo = _mm512_and_si512(a0, six), m_lo = _mm512_and_si512(a1, six);
    const __m512i sc_hi = _mm512_or_si512(_mm512_and_si512(a2, low4),
                                          _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(a0, 6), two), 4));
    const __m512i m_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(a2, 4), low4),
                                         _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(a1, 6), two), 4));
    const uint8_t* qh = rec + 256;  // Q5_K: 8 runs of 5th bits, the same for every pair
    const uint8_t* qs = rec + (kFive ? 768 : 256);
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      const int64_t b = 8 * sb + t;
      const int shift = 8 * (t % 4);
      const __m512 sw = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(t < 4 ? sc_lo : sc_hi, shift), low8)));
      const __m512 mw = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(t < 4 ? m_lo : m_hi, shift), low8)));
      // Runs 8p .. 8p + 7 of pair p = t / 2: low nibbles for even t, high for odd t.
      __m512i u[8];
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        const __m512i raw = _mm512_loadu_si512(qs + 64 * (8 * (t / 2) + c));
        u[c] = _mm512_and_si512(t % 2 == 0 ? raw : _mm512_srli_epi16(raw, 4), low4);
        if constexpr (kFive) {
          // Bit t of each qh byte to bit 4 of the same byte (the 16-bit shift's spill is masked
          // off), or'ed in: u | (hb & 0x10).
          const __m512i h = _mm512_loadu_si512(qh + 64 * c);
          const __m512i hb = t <= 4 ? _mm512_slli_epi16(h, 4 - t) : _mm512_srli_epi16(h, t - 4);
          u[c] = _mm512_ternarylogic_epi32(u[c], hb, _mm512_set1_epi8(0x10), 0xf8);
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const int32_t* x4 = reinterpret_cast<const int32_t*>(x.q[r] + 32 * b);
        __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          s0 = _mm512_dpbusd_epi32(s0, u[c], _mm512_set1_epi32(x4[c]));
          s1 = _mm512_dpbusd_epi32(s1, u[c + 4], _mm512_set1_epi32(x4[c + 4]));
        }
        const float dx = x.d[r][b];
        const float min_x = dx * static_cast<float>(x.bs[r][b]);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), _mm512_mul_ps(sw, _mm512_set1_ps(dx)), acc[r]);
        acc[r] = _mm512_fmadd_ps(mw, _mm512_set1_ps(min_x), acc[r]);
      }
    }
  }
  StoreGroup<R>(a, acc, rows, i0, g);
}
template <bool kFive>
struct Q4Kx16Tiles {
  template <int R>
  static void Tile(const MatMulArgs& a, int64_t i0, int rows, int64_t g) { TileQ4Kx16<kFive, R>(a, i0, rows, g); }
};

// --- Q6_Kx16: Q6_K with rows in lanes (quantize.h, RepackQ6_Kx16) --------------------------------
// Per output y[i, j] (j = 16g + lane), over the 32-blocks b of k in order, with the int8 scales
// sc0 (elements 0-15) and sc1 (16-31) of row j and u = q + 32 (0..63) the stored value:
//   isum0 = -32 * sum(qx[i, b, 0..15]) + sum_{t < 16} u * qx,  isum1 likewise for 16..31 (exact)
//   acc   = fma(float(isum0), (d[j] * sc0) * dx[i, b], acc)
//   acc   = fma(float(isum1), (d[j] * sc1) * dx[i, b], acc)
// then + bias, + y; d * sc is exact in f32. The same sequence for every tile shape and split.
constexpr int64_t kQ6Kx16Record = 3360;

template <int R>
inline void TileQ6Kx16(const MatMulArgs& a, int64_t i0, int rows, int64_t g) {
  const int64_t supers = a.k / 256;
  const uint8_t* group = a.w + static_cast<uint64_t>(g) * supers * kQ6Kx16Record;
  const XRows<R> x(a, i0, rows);
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0f), low2 = _mm512_set1_epi8(0x03);
  for (int64_t sb = 0; sb < supers; ++sb) {
    const uint8_t* rec = group + sb * kQ6Kx16Record;
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec)));
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      const int64_t b = 8 * sb + t;
      const int h = t / 4, q = t % 4;
      const uint8_t* half = rec + 32 + 26 * 64 * h;  // scale runs, 8 qh runs, 16 ql runs
      // Scales 2t and 2t + 1: bytes (2t) % 4 and +1 of the half's scale run q / 2, sign-extended.
      const __m512i sc_run = _mm512_loadu_si512(half + 64 * (q / 2));
      const int byte0 = (2 * t) % 4;
      const __m512 sw0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(sc_run, 24 - 8 * byte0), 24)));
      const __m512 sw1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(sc_run, 16 - 8 * byte0), 24)));
      __m512i u[8];
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        const __m512i qh = _mm512_loadu_si512(half + 64 * (2 + c));
        const __m512i ql = _mm512_loadu_si512(half + 64 * (10 + 8 * (q % 2) + c));
        const __m512i lo = _mm512_and_si512(q / 2 == 0 ? ql : _mm512_srli_epi16(ql, 4), low4);
        const __m512i hi = _mm512_and_si512(q == 0 ? qh : _mm512_srli_epi16(qh, 2 * q), low2);
        u[c] = _mm512_or_si512(lo, _mm512_slli_epi16(hi, 4));
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const int32_t* x4 = reinterpret_cast<const int32_t*>(x.q[r] + 32 * b);
        const int32_t* s4 = x.s[r] + 8 * b;  // -128 * 4-value sums
        __m512i s0 = _mm512_set1_epi32((s4[0] + s4[1] + s4[2] + s4[3]) / 4);  // exact: -32 * sum
        __m512i s1 = _mm512_set1_epi32((s4[4] + s4[5] + s4[6] + s4[7]) / 4);
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          s0 = _mm512_dpbusd_epi32(s0, u[c], _mm512_set1_epi32(x4[c]));
          s1 = _mm512_dpbusd_epi32(s1, u[c + 4], _mm512_set1_epi32(x4[c + 4]));
        }
        const __m512 dx = _mm512_set1_ps(x.d[r][b]);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(sw0, dx), acc[r]);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_mul_ps(sw1, dx), acc[r]);
      }
    }
  }
  StoreGroup<R>(a, acc, rows, i0, g);
}
struct Q6Kx16Tiles {
  template <int R>
  static void Tile(const MatMulArgs& a, int64_t i0, int rows, int64_t g) { TileQ6Kx16<R>(a, i0, rows, g); }
};


// --- Q2_K .. Q6_K (quantize.h): super-blocks of 256 = 4 pairs of the activations' 32-blocks
// Per output y[i, j], over the pairs p of 32-blocks in k order (one zmm of 64 values per pair):
//   isum[lane] = start[lane] + sum of 4 products uw * qx   (exact int32, vpdpbusd; uw unsigned)
//   acc = fma(f32(isum), s[lane] * dx[lane], acc)                    (f32 per lane)
//   Q4_K: uw = the nibble, start 0, s = d * sc of the lane's sub-block; then the mins:
//         acc = fma(f32(xs[lane]), dmin * m / 128 * dx[lane], acc)   (xs = -128 * 4-value sums)
//   Q5_K: as Q4_K with uw = the 5-bit q
//   Q6_K: uw = q + 32 (0..63), start = -32 * 4-value sums (xs / 4), s = d * scale of the lane's
//         16 values
//   Q3_K: as Q6_K with uw = q (0..7), start = -4 * 4-value sums (xs / 32), s = d * (sc - 32)
//   Q2_K: as Q4_K with uw = q (0..3) and a scale and min per 16 values (lane index as Q6_K's)
// then the fixed ReduceAdd, + bias, + y; the same sequence for every tile shape and thread split.
// dx[lane] = the activation scale of the lane's 32-block (lanes 0-7 the first of the pair).

// f32 of an f16 stored at p.
inline float HalfAt(const uint8_t* p) { return _cvtsh_ss(LoadU16(p)); }

struct Q4KW {
  static constexpr int64_t kBytes = 144;
  static constexpr bool kMins = true;
  // s[0..7] = d * sc[j], m[0..7] = dmin * m[j] / 128 (exact power-of-two scaling).
  static void Scales(const uint8_t* blk, float* s, float* m) {
    uint32_t a[3];
    std::memcpy(a, blk + 4, 12);
    const uint32_t sc_lo = a[0] & 0x3f3f3f3fu, m_lo = a[1] & 0x3f3f3f3fu;
    const uint32_t sc_hi = (a[2] & 0x0f0f0f0fu) | ((a[0] >> 6) & 0x03030303u) << 4;
    const uint32_t m_hi = ((a[2] >> 4) & 0x0f0f0f0fu) | ((a[1] >> 6) & 0x03030303u) << 4;
    const __m128i sc8 = _mm_set_epi32(0, 0, static_cast<int>(sc_hi), static_cast<int>(sc_lo));
    const __m128i m8 = _mm_set_epi32(0, 0, static_cast<int>(m_hi), static_cast<int>(m_lo));
    const __m256 d = _mm256_set1_ps(HalfAt(blk));
    const __m256 dmin = _mm256_set1_ps(HalfAt(blk + 2) * (1.0f / 128.0f));
    _mm256_storeu_ps(s, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sc8))));
    _mm256_storeu_ps(m, _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(m8))));
  }
  // Lane -> index into s / m for pair p: sub-blocks 2p (lanes 0-7) and 2p + 1.
  static __m512i Index(int p) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(2 * p)), _mm256_set1_epi32(2 * p + 1), 1);
  }
  // Values 64p .. 64p + 63: low nibbles of qs[32p .. 32p + 31], then their high nibbles.
  static __m512i Load(const uint8_t* blk, int p) {
    const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * p));
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1);
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
  }
  static __m512i Start(__m512i) { return _mm512_setzero_si512(); }
};

// Q5_K: Q4_K's scales and nibbles (at byte 48) with the 5th bits of qh[0 .. 31] on top (q <= 31):
// bit 2p for values 64p .. 64p + 31, bit 2p + 1 for the next 32.
struct Q5KW : Q4KW {
  static constexpr int64_t kBytes = 176;
  static __m512i Load(const uint8_t* blk, int p) {
    const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 48 + 32 * p));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1);
    // Bits 2p and 2p + 1 of each qh byte to bit 4 of the same byte (spill masked off below).
    const int s0 = 2 * p, s1 = 2 * p + 1;
    const __m256i h0 = s0 <= 4 ? _mm256_slli_epi16(qh, 4 - s0) : _mm256_srli_epi16(qh, s0 - 4);
    const __m256i h1 = s1 <= 4 ? _mm256_slli_epi16(qh, 4 - s1) : _mm256_srli_epi16(qh, s1 - 4);
    const __m512i hb = _mm512_inserti64x4(_mm512_castsi256_si512(h0), h1, 1);
    return _mm512_ternarylogic_epi32(_mm512_and_si512(z, _mm512_set1_epi8(0x0f)), hb, _mm512_set1_epi8(0x10), 0xf8);
  }
};

struct Q6KW {
  static constexpr int64_t kBytes = 210;
  static constexpr bool kMins = false;
  // s[0..15] = d * scales[i].
  static void Scales(const uint8_t* blk, float* s, float*) {
    const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    _mm512_storeu_ps(s, _mm512_mul_ps(_mm512_set1_ps(HalfAt(blk + 208)), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc))));
  }
  // Lane -> scale index for pair p: values 64p + 4 * lane .. +3 have scale (64p + 4 lane) / 16.
  static __m512i Index(int p) {
    return _mm512_add_epi32(_mm512_set1_epi32(4 * p), _mm512_srli_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 2));
  }
  // Values 64p .. 64p + 63 as q + 32: half h = p / 2; even p the low nibbles of ql[64h ..] with
  // qh bits 0-1 (first 32) and 2-3, odd p the high nibbles with bits 4-5 and 6-7.
  static __m512i Load(const uint8_t* blk, int p) {
    const int h = p / 2;
    const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
    const __m512i low4 = _mm512_set1_epi8(0x0f), low2 = _mm512_set1_epi8(0x03);
    __m512i lo, hz;
    if (p % 2 == 0) {
      lo = _mm512_and_si512(ql, low4);
      hz = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
    } else {
      lo = _mm512_and_si512(_mm512_srli_epi16(ql, 4), low4);
      hz = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_srli_epi16(qh, 4)), _mm256_srli_epi16(qh, 6), 1);
    }
    return _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(hz, low2), 4));
  }
  static __m512i Start(__m512i minus128_sums) { return _mm512_srai_epi32(minus128_sums, 2); }  // -32 * sum
};

// [lo, hi] as one zmm.
inline __m512i Join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

// Q3_K: like Q6_K (a scale per 16 values) with uw = q (0..7) and start -4 * 4-value sums.
struct Q3KW {
  static constexpr int64_t kBytes = 110;
  static constexpr bool kMins = false;
  // s[0..15] = d * (sc[i] - 32), the 6-bit scales decoded as ggml does (quantize.h).
  static void Scales(const uint8_t* blk, float* s, float*) {
    const __m128i sc = Q3KSignedScales(blk);
    _mm512_storeu_ps(s, _mm512_mul_ps(_mm512_set1_ps(HalfAt(blk + 108)), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc))));
  }
  static __m512i Index(int p) { return Q6KW::Index(p); }
  // Values 64p .. 64p + 63 as q: half h = p / 2, groups g0 = 2 (p % 2) and g0 + 1: low 2 bits
  // (qs[32h + t] >> 2g) & 3, high bit (hmask[t] >> (4h + g)) & 1.
  static __m512i Load(const uint8_t* blk, int p) {
    const int h = p / 2, g0 = 2 * (p % 2);
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32 + 32 * h));
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk));
    const __m512i lo = Join(_mm256_srli_epi16(qs, 2 * g0), _mm256_srli_epi16(qs, 2 * g0 + 2));
    const __m512i hi = Join(_mm256_srli_epi16(hm, 4 * h + g0), _mm256_srli_epi16(hm, 4 * h + g0 + 1));
    return _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi8(0x03)),
                           _mm512_slli_epi16(_mm512_and_si512(hi, _mm512_set1_epi8(0x01)), 2));
  }
  static __m512i Start(__m512i minus128_sums) { return _mm512_srai_epi32(minus128_sums, 5); }  // -4 * sum
};

// Q2_K: q (0..3) unsigned, start 0; scale d * (sc & 15) and min dmin * (sc >> 4) / 128 per 16
// values (lane index as Q6_K's).
struct Q2KW {
  static constexpr int64_t kBytes = 84;
  static constexpr bool kMins = true;
  static void Scales(const uint8_t* blk, float* s, float* m) {
    __m128i lo, hi;
    Q2KScalesAndMins(blk, &lo, &hi);
    _mm512_storeu_ps(s, _mm512_mul_ps(_mm512_set1_ps(HalfAt(blk + 80)), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo))));
    _mm512_storeu_ps(m, _mm512_mul_ps(_mm512_set1_ps(HalfAt(blk + 82) * (1.0f / 128.0f)),
                                      _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi))));
  }
  static __m512i Index(int p) { return Q6KW::Index(p); }
  // Values 64p .. 64p + 63: half h = p / 2, groups g0 = 2 (p % 2) and g0 + 1 of qs[32h ..].
  static __m512i Load(const uint8_t* blk, int p) {
    const int h = p / 2, g0 = 2 * (p % 2);
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * h));
    const __m512i z = Join(_mm256_srli_epi16(qs, 2 * g0), _mm256_srli_epi16(qs, 2 * g0 + 2));
    return _mm512_and_si512(z, _mm512_set1_epi8(0x03));
  }
  static __m512i Start(__m512i) { return _mm512_setzero_si512(); }
};

template <class W, int R, int C>
inline void TileK(const MatMulArgs& a, int64_t i0, int rows, int64_t j0, int cols) {
  const XRows<R> x(a, i0, rows);
  const uint8_t* w[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) w[c] = a.w + static_cast<uint64_t>(j0 + (c < cols ? c : cols - 1)) * a.w_row_bytes;
  __m512 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  alignas(64) float s[C][16];
  alignas(64) float mins[C][16];
  const int64_t supers = a.k / 256;
  for (int64_t sb = 0; sb < supers; ++sb) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const uint8_t* blk = w[c] + sb * W::kBytes;
      if constexpr (R == 1) {
        // GEMV streams weights from DRAM: prefetch the same super-block of the next tile's rows.
        const char* next = reinterpret_cast<const char*>(blk + C * a.w_row_bytes);
        for (int line = 0; line < W::kBytes + 63; line += 64) _mm_prefetch(next + line, _MM_HINT_T0);
      }
      W::Scales(blk, s[c], mins[c]);
    }
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      const int64_t pair = 4 * sb + p;
      const __m512i index = W::Index(p);
      __m512i xv[R], start[R];
      __m512 dx[R], xsf[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        xv[r] = _mm512_loadu_si512(x.q[r] + pair * 64);
        const __m512i sums = _mm512_loadu_si512(x.s[r] + pair * 16);
        start[r] = W::Start(sums);
        if constexpr (W::kMins) xsf[r] = _mm512_cvtepi32_ps(sums);
        dx[r] = _mm512_insertf32x8(_mm512_set1_ps(x.d[r][2 * pair]), _mm256_set1_ps(x.d[r][2 * pair + 1]), 1);
      }
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m512i wv = W::Load(w[c] + sb * W::kBytes, p);
        const __m512 sw = _mm512_permutexvar_ps(index, _mm512_load_ps(s[c]));
        __m512 mw = _mm512_setzero_ps();
        if constexpr (W::kMins) mw = _mm512_permutexvar_ps(index, _mm512_load_ps(mins[c]));
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m512i dot = _mm512_dpbusd_epi32(start[r], wv, xv[r]);
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(sw, dx[r]), acc[r][c]);
          if constexpr (W::kMins) acc[r][c] = _mm512_fmadd_ps(xsf[r], _mm512_mul_ps(mw, dx[r]), acc[r][c]);
        }
      }
    }
  }
  for (int r = 0; r < rows; ++r) {
    float* y = a.y + (i0 + r) * a.n + j0;
    for (int c = 0; c < cols; ++c) {
      float v = ReduceAdd(acc[r][c]);
      if (a.bias != nullptr) v += a.bias[j0 + c];
      y[c] = a.accumulate ? y[c] + v : v;
    }
  }
}

// GEMV: 4 weight rows at a time; otherwise 4 x 4 tiles, sweeping every x row of the rectangle per
// group of 4 weight rows.
template <class W>
void MatMulK(const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (m1 - m0 == 1) {
    for (int64_t j = n0; j < n1; j += 4) TileK<W, 1, 4>(a, m0, 1, j, static_cast<int>(std::min<int64_t>(4, n1 - j)));
    return;
  }
  for (int64_t j = n0; j < n1; j += 4) {
    const int cols = static_cast<int>(std::min<int64_t>(4, n1 - j));
    int64_t i = m0;
    for (; i + 4 <= m1; i += 4) TileK<W, 4, 4>(a, i, 4, j, cols);
    switch (m1 - i) {
      case 3: TileK<W, 3, 4>(a, i, 3, j, cols); break;
      case 2: TileK<W, 2, 4>(a, i, 2, j, cols); break;
      case 1: TileK<W, 1, 4>(a, i, 1, j, cols); break;
      default: break;
    }
  }
}

}  // namespace

MatMulFn Avx512VnniMatMul(DType dtype) {
  switch (dtype) {
    case DType::kQ8_0: return &MatMulQ<Q8W>;
    case DType::kQ4_0: return &MatMulQ<Q4W>;
    case DType::kQ4_1: return &MatMulQ<Q41W>;
    case DType::kQ5_0: return &MatMulQ<Q50W>;
    case DType::kQ5_1: return &MatMulQ<Q51W>;
    case DType::kIQ4_NL: return &MatMulQ<IQ4NLW>;
    case DType::kQ4_0x16: return &MatMulGroups<X16Tiles<Q4x16>>;
    case DType::kQ8_0x16: return &MatMulGroups<X16Tiles<Q8x16>>;
    case DType::kQ5_0x16: return &MatMulGroups<X16Tiles<Q5x16>>;
    case DType::kIQ4_NLx16: return &MatMulGroups<X16Tiles<IQ4NLx16>>;
    case DType::kQ2_K: return &MatMulK<Q2KW>;
    case DType::kQ3_K: return &MatMulK<Q3KW>;
    case DType::kQ4_K: return &MatMulK<Q4KW>;
    case DType::kQ5_K: return &MatMulK<Q5KW>;
    case DType::kQ6_K: return &MatMulK<Q6KW>;
    case DType::kQ4_Kx16: return &MatMulGroups<Q4Kx16Tiles<false>>;
    case DType::kQ5_Kx16: return &MatMulGroups<Q4Kx16Tiles<true>>;
    case DType::kQ6_Kx16: return &MatMulGroups<Q6Kx16Tiles>;
    default: return nullptr;
  }
}

}  // namespace pagellm::kernels_internal

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // !__x86_64__

namespace pagellm::kernels_internal {
MatMulFn Avx512VnniMatMul(DType) { return nullptr; }
}  // namespace pagellm::kernels_internal

#endif
