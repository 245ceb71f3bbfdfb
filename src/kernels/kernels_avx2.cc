// AVX2 (+FMA+F16C) kernels: MatMul for F32/F16/BF16 weights with f32 activations and for
// Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/IQ4_NL/Q2_K..Q6_K weights with int8-quantized activations (and that
// quantization), RmsNorm, Rope, SiluMul, Softmax and PagedAttention. 8 f32 lanes.
#include "src/kernels/kernels_internal.h"
#include "src/kernels/quantize.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

#include "src/kernels/x86_q8_sums_inl.h"

namespace pagellm::kernels_internal {
namespace {

constexpr int64_t kLanes = 8;

alignas(64) constexpr int32_t kMaskSource[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
// Lane mask of the first n lanes, n in [0, 8].
inline __m256i FirstN(int64_t n) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskSource + 8 - n));
}
inline __m256 LoadN(const float* p, __m256i m) { return _mm256_maskload_ps(p, m); }

inline float ReduceAdd(__m256 v) {
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}
inline float ReduceMax(__m256 v) {
  const __m128 s4 = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_max_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_max_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}

// exp(x) = 2^n * e^r, n = round(x / ln2); Cephes expf polynomial (about 1 ulp). Inputs are clamped
// so that 2^n is a normal float; below ln(2^-126) the result is 0, above 88.376 it is +inf.
inline __m256 Exp(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3365479f);
  const __m256 hi = _mm256_set1_ps(88.3762f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  const __m256 over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
  const __m256 xc = _mm256_max_ps(lo, _mm256_min_ps(hi, x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), under);
  return _mm256_blendv_ps(y, _mm256_set1_ps(std::numeric_limits<float>::infinity()), over);
}

// --- MatMul ---------------------------------------------------------------------------------
// Weight loaders: 8 consecutive values of a row from element kk as f32 (n < 8: zero-padded tail).
struct F32W {
  static __m256 Load(const uint8_t* row, int64_t kk) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + kk);
  }
  static __m256 Load(const uint8_t* row, int64_t kk, int64_t n) {
    return LoadN(reinterpret_cast<const float*>(row) + kk, FirstN(n));
  }
};
inline __m128i LoadHalves(const uint8_t* p, int64_t n) {
  alignas(16) uint16_t tmp[8] = {};
  std::memcpy(tmp, p, static_cast<size_t>(n) * 2);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
}
struct F16W {
  static __m256 Load(const uint8_t* row, int64_t kk) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * kk)));
  }
  static __m256 Load(const uint8_t* row, int64_t kk, int64_t n) {
    return _mm256_cvtph_ps(LoadHalves(row + 2 * kk, n));
  }
};
struct Bf16W {
  static __m256 Widen(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static __m256 Load(const uint8_t* row, int64_t kk) {
    return Widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * kk)));
  }
  static __m256 Load(const uint8_t* row, int64_t kk, int64_t n) { return Widen(LoadHalves(row + 2 * kk, n)); }
};

// R x C register tile; see kernels_avx512.cc (same per-element sequence for every R, C).
template <class W, int R, int C>
inline void Tile(const MatMulArgs& a, int64_t i0, int rows, int64_t j0, int cols) {
  const float* x[R];
  const uint8_t* w[C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) x[r] = a.x + (i0 + (r < rows ? r : rows - 1)) * a.k;
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) w[c] = a.w + static_cast<uint64_t>(j0 + (c < cols ? c : cols - 1)) * a.w_row_bytes;
  __m256 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  const int64_t k = a.k;
  const int64_t k_full = k & ~(kLanes - 1);
  for (int64_t kk = 0; kk < k_full; kk += kLanes) {
    __m256 xv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) xv[r] = _mm256_loadu_ps(x[r] + kk);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m256 wv = W::Load(w[c], kk);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
    }
  }
  if (k_full < k) {
    const __m256i m = FirstN(k - k_full);
    __m256 xv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) xv[r] = LoadN(x[r] + k_full, m);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m256 wv = W::Load(w[c], k_full, k - k_full);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
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

template <class W>
void MatMulImpl(const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (m1 - m0 == 1) {
    for (int64_t j = n0; j < n1; j += 8) Tile<W, 1, 8>(a, m0, 1, j, static_cast<int>(std::min<int64_t>(8, n1 - j)));
    return;
  }
  for (int64_t j = n0; j < n1; j += 4) {
    const int cols = static_cast<int>(std::min<int64_t>(4, n1 - j));
    int64_t i = m0;
    for (; i + 2 <= m1; i += 2) Tile<W, 2, 4>(a, i, 2, j, cols);
    if (i < m1) Tile<W, 1, 4>(a, i, 1, j, cols);
  }
}

// --- MatMul for block-quantized weights (Q8_0, Q4_0, Q5_0, IQ4_NL, Q4_1, Q5_1) --------------
// Activations come quantized per 32-block (MatMulArgs::xq / xd). Per output, per block b:
//   acc += f32(sum_t qw[t] * qx[t]) * (dw[b] * dx[b])       (8 int32 lanes, one FMA)
// The int sum is exact: for the signed weights (Q8_0; Q4_0 nibble - 8; Q5_0 q - 16; IQ4_NL its
// level) vpmaddubsw
// multiplies |qw| (u8, <= 128) by qx * sign(qw) (|.| <= 127), pair sums <= 32512 fit int16, then
// vpmaddwd by ones widens to int32. Q4_1 / Q5_1 (value d * q + m) multiply the unsigned q (<= 31)
// directly and add the min term m * dx[b] * sum(qx) as a second FMA per block: lane g holds the
// driver's xs (-128 * the sum of values 4g .. 4g + 3), times -m / 128 * dx[b] (the scaling by
// -1/128 is exact). Then ReduceAdd, + bias, + y: the same sequence for every tile shape (batch
// invariance).
inline uint16_t LoadU16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}
struct Q8W {
  static constexpr int kBytes = 34;
  static constexpr bool kMins = false;
  static __m256i Load(const uint8_t* blk) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)); }
};
// Elements 0..15 are the low nibbles of qs[0..15], 16..31 the high ones.
inline __m256i Nibbles(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
  return _mm256_and_si256(t, _mm256_set1_epi8(0x0f));
}
// The 5th bits of a Q5_0 / Q5_1 block: byte i is 0x10 if bit i of the little-endian qh is set.
inline __m256i FifthBits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  // Byte i of the result looks at byte i / 8 of qh (in every 128-bit lane, since all four bytes
  // repeat there), then at its bit i % 8.
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(h)),
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}
struct Q4W {
  static constexpr int kBytes = 18;
  static constexpr bool kMins = false;
  static __m256i Load(const uint8_t* blk) { return _mm256_sub_epi8(Nibbles(blk + 2), _mm256_set1_epi8(8)); }
};
struct Q50W {
  static constexpr int kBytes = 22;
  static constexpr bool kMins = false;
  static __m256i Load(const uint8_t* blk) {
    return _mm256_sub_epi8(_mm256_or_si256(Nibbles(blk + 6), FifthBits(blk + 2)), _mm256_set1_epi8(16));
  }
};
// IQ4_NL: the nibbles looked up in the signed level table (|level| <= 127).
struct IQ4NLW {
  static constexpr int kBytes = 18;
  static constexpr bool kMins = false;
  static __m256i Load(const uint8_t* blk) {
    const __m128i levels = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues));
    return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(levels), Nibbles(blk + 2));
  }
};
// Unsigned q (kMins: value d * q + m, m the f16 at byte 2).
struct Q41W {
  static constexpr int kBytes = 20;
  static constexpr bool kMins = true;
  static __m256i Load(const uint8_t* blk) { return Nibbles(blk + 4); }
};
struct Q51W {
  static constexpr int kBytes = 24;
  static constexpr bool kMins = true;
  static __m256i Load(const uint8_t* blk) { return _mm256_or_si256(Nibbles(blk + 8), FifthBits(blk + 4)); }
};

template <class W, int R, int C>
inline void QTile(const MatMulArgs& a, int64_t i0, int rows, int64_t j0, int cols) {
  const int8_t* xq[R];
  const float* xd[R];
  const int32_t* xs[R];
  const uint8_t* w[C];
  const int64_t xd_stride = a.xq_stride / 32;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const int64_t i = i0 + (r < rows ? r : rows - 1);
    xq[r] = a.xq + i * a.xq_stride;
    xd[r] = a.xd + i * xd_stride;
    xs[r] = a.xs + i * (a.xq_stride / 4);
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) w[c] = a.w + static_cast<uint64_t>(j0 + (c < cols ? c : cols - 1)) * a.w_row_bytes;
  __m256 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t blocks = a.k / 32;
  for (int64_t b = 0; b < blocks; ++b) {
    __m256i xv[R];
    __m256 xsf[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      xv[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[r] + 32 * b));
      if constexpr (W::kMins) {
        xsf[r] = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[r] + 8 * b)));
      }
    }
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const uint8_t* blk = w[c] + b * W::kBytes;
      if constexpr (R == 1) _mm_prefetch(reinterpret_cast<const char*>(blk + C * a.w_row_bytes), _MM_HINT_T0);
      const __m256i wv = W::Load(blk);
      const float dw = _cvtsh_ss(LoadU16(blk));
      if constexpr (W::kMins) {
        const float mw = _cvtsh_ss(LoadU16(blk + 2)) * (-1.0f / 128.0f);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m256i p32 = _mm256_madd_epi16(_mm256_maddubs_epi16(wv, xv[r]), ones);
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_set1_ps(dw * xd[r][b]), acc[r][c]);
          acc[r][c] = _mm256_fmadd_ps(xsf[r], _mm256_set1_ps(mw * xd[r][b]), acc[r][c]);
        }
      } else {
        const __m256i wabs = _mm256_sign_epi8(wv, wv);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m256i p16 = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xv[r], wv));
          const __m256i p32 = _mm256_madd_epi16(p16, ones);
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_set1_ps(dw * xd[r][b]), acc[r][c]);
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

template <class W>
void MatMulQ(const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (m1 - m0 == 1) {
    for (int64_t j = n0; j < n1; j += 4) QTile<W, 1, 4>(a, m0, 1, j, static_cast<int>(std::min<int64_t>(4, n1 - j)));
    return;
  }
  for (int64_t j = n0; j < n1; j += 4) {
    const int cols = static_cast<int>(std::min<int64_t>(4, n1 - j));
    int64_t i = m0;
    for (; i + 2 <= m1; i += 2) QTile<W, 2, 4>(a, i, 2, j, cols);
    if (i < m1) QTile<W, 1, 4>(a, i, 1, j, cols);
  }
}

// --- MatMul for K-quants (Q2_K .. Q6_K; quantize.h) ------------------------------------------
// Per output, per 32-block b of k (sub-block of the 256-value super-block):
//   isum[lane] = start[lane] + vpmaddwd(vpmaddubsw(uw, qx), 1)   (8 int32 lanes of 4 values)
//   acc = fma(f32(isum), s[lane] * dx[b], acc)
//   Q4_K: uw the nibble, start 0, s = d * sc of the sub-block; then the mins:
//         acc = fma(f32(xs[lane]), dmin * m / 128 * dx[b], acc)   (xs = -128 * 4-value sums)
//   Q5_K: as Q4_K with uw the 5-bit q
//   Q6_K: uw = q + 32, start = xs / 4 (= -32 * 4-value sums), s = d * scale of the lane's 16
//   Q3_K: as Q6_K with uw = q (0..7), start = xs / 32 (= -4 * 4-value sums), s = d * (sc - 32)
//   Q2_K: as Q4_K with uw = q (0..3) and a scale and min per 16 values (per lane, like Q6_K)
// then ReduceAdd, + bias, + y. vpmaddubsw pair sums stay below 2 * 63 * 127 (no saturation).
struct Q4KW {
  static constexpr int64_t kBytes = 144;
  static constexpr bool kMins = true;
  // s[j] = d * sc[j], m[j] = dmin * m[j] / 128 for the 8 sub-blocks.
  static void Scales(const uint8_t* blk, float* s, float* m) {
    uint32_t a[3];
    std::memcpy(a, blk + 4, 12);
    const uint32_t sc_lo = a[0] & 0x3f3f3f3fu, m_lo = a[1] & 0x3f3f3f3fu;
    const uint32_t sc_hi = (a[2] & 0x0f0f0f0fu) | ((a[0] >> 6) & 0x03030303u) << 4;
    const uint32_t m_hi = ((a[2] >> 4) & 0x0f0f0f0fu) | ((a[1] >> 6) & 0x03030303u) << 4;
    const __m128i sc8 = _mm_set_epi32(0, 0, static_cast<int>(sc_hi), static_cast<int>(sc_lo));
    const __m128i m8 = _mm_set_epi32(0, 0, static_cast<int>(m_hi), static_cast<int>(m_lo));
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(LoadU16(blk)));
    const __m256 dmin = _mm256_set1_ps(_cvtsh_ss(LoadU16(blk + 2)) * (1.0f / 128.0f));
    _mm256_storeu_ps(s, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sc8))));
    _mm256_storeu_ps(m, _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(m8))));
  }
  // Lane scales (and mins) of sub-block b: all lanes s[b].
  static __m256 LaneScales(const float* s, int b) { return _mm256_set1_ps(s[b]); }
  static __m256 LaneMins(const float* m, int b) { return _mm256_set1_ps(m[b]); }
  // Values 32b .. 32b + 31: the low (even b) or high nibbles of qs[32 (b / 2) ..].
  static __m256i Load(const uint8_t* blk, int b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * (b / 2)));
    return _mm256_and_si256(b % 2 == 0 ? q : _mm256_srli_epi16(q, 4), _mm256_set1_epi8(0x0f));
  }
  static __m256i Start(__m256i) { return _mm256_setzero_si256(); }
};
// Q5_K: Q4_K's scales and nibbles (at byte 48) with the 5th bit b of qh[0 .. 31] on top (q <= 31).
struct Q5KW : Q4KW {
  static constexpr int64_t kBytes = 176;
  static __m256i Load(const uint8_t* blk, int b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 48 + 32 * (b / 2)));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
    const __m256i lo = _mm256_and_si256(b % 2 == 0 ? q : _mm256_srli_epi16(q, 4), _mm256_set1_epi8(0x0f));
    // Bit b of each qh byte to bit 4 of the same byte (the 16-bit shift's spill is masked off).
    const __m256i hb = b <= 4 ? _mm256_slli_epi16(qh, 4 - b) : _mm256_srli_epi16(qh, b - 4);
    return _mm256_or_si256(lo, _mm256_and_si256(hb, _mm256_set1_epi8(0x10)));
  }
};
struct Q6KW {
  static constexpr int64_t kBytes = 210;
  static constexpr bool kMins = false;
  static void Scales(const uint8_t* blk, float* s, float*) {
    const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(LoadU16(blk + 208)));
    _mm256_storeu_ps(s, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc))));
    _mm256_storeu_ps(s + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8)))));
  }
  // Lanes 0-3 hold values 32b .. 32b + 15 (scale 2b), lanes 4-7 the next 16 (scale 2b + 1).
  static __m256 LaneScales(const float* s, int b) {
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_set1_ps(s[2 * b])), _mm_set1_ps(s[2 * b + 1]), 1);
  }
  // Values 32b .. 32b + 31 as q + 32 (half h = b / 4, group g = b % 4; quantize.h).
  static __m256i Load(const uint8_t* blk, int b) {
    const int h = b / 4, g = b % 4;
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32 * (g & 1)));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
    const __m256i lo = _mm256_and_si256(g < 2 ? ql : _mm256_srli_epi16(ql, 4), _mm256_set1_epi8(0x0f));
    const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g)), _mm256_set1_epi8(0x03));
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
  }
  static __m256i Start(__m256i minus128_sums) { return _mm256_srai_epi32(minus128_sums, 2); }
};

// Q3_K: like Q6_K (a scale per 16 values) with uw = q (0..7), start = xs / 32 (= -4 * 4-value sums).
struct Q3KW {
  static constexpr int64_t kBytes = 110;
  static constexpr bool kMins = false;
  static void Scales(const uint8_t* blk, float* s, float*) {
    const __m128i sc = Q3KSignedScales(blk);
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(LoadU16(blk + 108)));
    _mm256_storeu_ps(s, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc))));
    _mm256_storeu_ps(s + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8)))));
  }
  static __m256 LaneScales(const float* s, int b) { return Q6KW::LaneScales(s, b); }
  // Values 32b .. 32b + 31 as q (half h = b / 4, group g = b % 4; quantize.h).
  static __m256i Load(const uint8_t* blk, int b) {
    const int h = b / 4, g = b % 4;
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32 + 32 * h));
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk));
    const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(qs, _mm_cvtsi32_si128(2 * g)), _mm256_set1_epi8(0x03));
    const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(hm, _mm_cvtsi32_si128(4 * h + g)), _mm256_set1_epi8(0x01));
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 2));
  }
  static __m256i Start(__m256i minus128_sums) { return _mm256_srai_epi32(minus128_sums, 5); }
};

// Q2_K: q (0..3) unsigned, start 0; scale d * (sc & 15) and min dmin * (sc >> 4) / 128 per 16
// values (lanes 0-3 and 4-7 of a 32-block, like Q6_K's scales).
struct Q2KW {
  static constexpr int64_t kBytes = 84;
  static constexpr bool kMins = true;
  static void Scales(const uint8_t* blk, float* s, float* m) {
    __m128i lo, hi;
    Q2KScalesAndMins(blk, &lo, &hi);
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(LoadU16(blk + 80)));
    const __m256 dmin = _mm256_set1_ps(_cvtsh_ss(LoadU16(blk + 82)) * (1.0f / 128.0f));
    _mm256_storeu_ps(s, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo))));
    _mm256_storeu_ps(s + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)))));
    _mm256_storeu_ps(m, _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi))));
    _mm256_storeu_ps(m + 8, _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)))));
  }
  static __m256 LaneScales(const float* s, int b) { return Q6KW::LaneScales(s, b); }
  static __m256 LaneMins(const float* m, int b) { return Q6KW::LaneScales(m, b); }
  // Values 32b .. 32b + 31 (half h = b / 4, group g = b % 4; quantize.h).
  static __m256i Load(const uint8_t* blk, int b) {
    const int h = b / 4, g = b % 4;
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * h));
    return _mm256_and_si256(_mm256_srl_epi16(qs, _mm_cvtsi32_si128(2 * g)), _mm256_set1_epi8(0x03));
  }
  static __m256i Start(__m256i) { return _mm256_setzero_si256(); }
};

template <class W, int R, int C>
inline void KTile(const MatMulArgs& a, int64_t i0, int rows, int64_t j0, int cols) {
  const int8_t* xq[R];
  const float* xd[R];
  const int32_t* xs[R];
  const uint8_t* w[C];
  const int64_t xd_stride = a.xq_stride / 32;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const int64_t i = i0 + (r < rows ? r : rows - 1);
    xq[r] = a.xq + i * a.xq_stride;
    xd[r] = a.xd + i * xd_stride;
    xs[r] = a.xs + i * (a.xq_stride / 4);
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) w[c] = a.w + static_cast<uint64_t>(j0 + (c < cols ? c : cols - 1)) * a.w_row_bytes;
  __m256 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  const __m256i ones = _mm256_set1_epi16(1);
  float s[C][16], mins[C][16];
  for (int64_t sb = 0; sb < a.k / 256; ++sb) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const uint8_t* blk = w[c] + sb * W::kBytes;
      if constexpr (R == 1) {
        const char* next = reinterpret_cast<const char*>(blk + C * a.w_row_bytes);
        for (int line = 0; line < W::kBytes + 63; line += 64) _mm_prefetch(next + line, _MM_HINT_T0);
      }
      W::Scales(blk, s[c], mins[c]);
    }
#pragma GCC unroll 8
    for (int b = 0; b < 8; ++b) {
      const int64_t blk_idx = 8 * sb + b;
      __m256i xv[R], start[R];
      __m256 xsf[R];
      float dx[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        xv[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[r] + 32 * blk_idx));
        const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[r] + 8 * blk_idx));
        start[r] = W::Start(sums);
        if constexpr (W::kMins) xsf[r] = _mm256_cvtepi32_ps(sums);
        dx[r] = xd[r][blk_idx];
      }
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m256i wv = W::Load(w[c] + sb * W::kBytes, b);
        const __m256 sw = W::LaneScales(s[c], b);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m256i p32 = _mm256_add_epi32(start[r], _mm256_madd_epi16(_mm256_maddubs_epi16(wv, xv[r]), ones));
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_mul_ps(sw, _mm256_set1_ps(dx[r])), acc[r][c]);
          if constexpr (W::kMins) {
            const __m256 mw = _mm256_mul_ps(W::LaneMins(mins[c], b), _mm256_set1_ps(dx[r]));
            acc[r][c] = _mm256_fmadd_ps(xsf[r], mw, acc[r][c]);
          }
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

template <class W>
void MatMulK(const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (m1 - m0 == 1) {
    for (int64_t j = n0; j < n1; j += 4) KTile<W, 1, 4>(a, m0, 1, j, static_cast<int>(std::min<int64_t>(4, n1 - j)));
    return;
  }
  for (int64_t j = n0; j < n1; j += 4) {
    const int cols = static_cast<int>(std::min<int64_t>(4, n1 - j));
    int64_t i = m0;
    for (; i + 2 <= m1; i += 2) KTile<W, 2, 4>(a, i, 2, j, cols);
    if (i < m1) KTile<W, 1, 4>(a, i, 1, j, cols);
  }
}

// --- Row kernels ----------------------------------------------------------------------------

void RmsNorm(const float* x, int64_t m, int64_t d, const float* weight, float eps, float* out) {
  const int64_t d_full = d & ~(kLanes - 1);
  const __m256i tail = FirstN(d - d_full);
  for (int64_t i = 0; i < m; ++i) {
    const float* xr = x + i * d;
    float* o = out + i * d;
    __m256 ss = _mm256_setzero_ps();
    for (int64_t j = 0; j < d_full; j += kLanes) {
      const __m256 v = _mm256_loadu_ps(xr + j);
      ss = _mm256_fmadd_ps(v, v, ss);
    }
    const __m256 vt = LoadN(xr + d_full, tail);
    ss = _mm256_fmadd_ps(vt, vt, ss);
    const __m256 scale =
        _mm256_set1_ps(1.0f / std::sqrt(ReduceAdd(ss) / static_cast<float>(d) + eps));
    for (int64_t j = 0; j < d_full; j += kLanes) {
      const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xr + j), scale);
      _mm256_storeu_ps(o + j, _mm256_mul_ps(v, _mm256_loadu_ps(weight + j)));
    }
    const __m256 v = _mm256_mul_ps(LoadN(xr + d_full, tail), scale);
    _mm256_maskstore_ps(o + d_full, tail, _mm256_mul_ps(v, LoadN(weight + d_full, tail)));
  }
}

void RopeHeadScalar(float* p, const float* c, const float* s, int64_t hd, RopePairing pairing) {
  float in[kMaxKernelHeadDim];
  for (int64_t e = 0; e < hd; ++e) in[e] = p[e];
  const int64_t half = hd / 2;
  for (int64_t e = 0; e < hd; ++e) {
    const int64_t partner = pairing == RopePairing::kNeox ? (e < half ? e + half : e - half) : (e ^ 1);
    const float u = in[e] * c[e];
    const float v = in[partner] * s[e];
    p[e] = u + v;
  }
}

void Rope(float* x, int64_t m, int64_t num_heads, int64_t hd, int64_t row_stride,
          const float* table, RopePairing pairing) {
  const int64_t half = hd / 2;
  for (int64_t i = 0; i < m; ++i) {
    const float* c = table + i * 2 * hd;
    const float* s = c + hd;
    for (int64_t h = 0; h < num_heads; ++h) {
      float* p = x + i * row_stride + h * hd;
      if (pairing == RopePairing::kNeox && half % kLanes == 0) {
        for (int64_t e = 0; e < half; e += kLanes) {
          const __m256 lo = _mm256_loadu_ps(p + e);
          const __m256 hi = _mm256_loadu_ps(p + half + e);
          const __m256 new_lo = _mm256_add_ps(_mm256_mul_ps(lo, _mm256_loadu_ps(c + e)),
                                              _mm256_mul_ps(hi, _mm256_loadu_ps(s + e)));
          const __m256 new_hi = _mm256_add_ps(_mm256_mul_ps(hi, _mm256_loadu_ps(c + half + e)),
                                              _mm256_mul_ps(lo, _mm256_loadu_ps(s + half + e)));
          _mm256_storeu_ps(p + e, new_lo);
          _mm256_storeu_ps(p + half + e, new_hi);
        }
      } else if (pairing == RopePairing::kInterleaved && hd % kLanes == 0) {
        for (int64_t e = 0; e < hd; e += kLanes) {
          const __m256 v = _mm256_loadu_ps(p + e);
          const __m256 swapped = _mm256_permute_ps(v, 0xB1);  // (x1, x0, x3, x2, ...)
          _mm256_storeu_ps(p + e, _mm256_add_ps(_mm256_mul_ps(v, _mm256_loadu_ps(c + e)),
                                                _mm256_mul_ps(swapped, _mm256_loadu_ps(s + e))));
        }
      } else {
        RopeHeadScalar(p, c, s, hd, pairing);
      }
    }
  }
}

inline __m256 SiluMulVec(__m256 g, __m256 u) {
  const __m256 e = Exp(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

void SiluMul(const float* gate, const float* up, float* out, int64_t n) {
  const int64_t n_full = n & ~(kLanes - 1);
  for (int64_t i = 0; i < n_full; i += kLanes) {
    _mm256_storeu_ps(out + i, SiluMulVec(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  }
  if (n_full < n) {
    const __m256i m = FirstN(n - n_full);
    _mm256_maskstore_ps(out + n_full, m, SiluMulVec(LoadN(gate + n_full, m), LoadN(up + n_full, m)));
  }
}

void Softmax(float* x, int64_t m, int64_t n) {
  const int64_t n_full = n & ~(kLanes - 1);
  const __m256i tail = FirstN(n - n_full);
  const __m256 neg_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < m; ++i) {
    float* r = x + i * n;
    __m256 mx = neg_inf;
    for (int64_t j = 0; j < n_full; j += kLanes) mx = _mm256_max_ps(mx, _mm256_loadu_ps(r + j));
    mx = _mm256_max_ps(mx, _mm256_blendv_ps(neg_inf, LoadN(r + n_full, tail), _mm256_castsi256_ps(tail)));
    const __m256 row_max = _mm256_set1_ps(ReduceMax(mx));
    __m256 sum = _mm256_setzero_ps();
    for (int64_t j = 0; j < n_full; j += kLanes) {
      const __m256 e = Exp(_mm256_sub_ps(_mm256_loadu_ps(r + j), row_max));
      _mm256_storeu_ps(r + j, e);
      sum = _mm256_add_ps(sum, e);
    }
    const __m256 et = _mm256_and_ps(Exp(_mm256_sub_ps(LoadN(r + n_full, tail), row_max)), _mm256_castsi256_ps(tail));
    _mm256_maskstore_ps(r + n_full, tail, et);
    sum = _mm256_add_ps(sum, et);
    const __m256 inv = _mm256_set1_ps(1.0f / ReduceAdd(sum));
    for (int64_t j = 0; j < n_full; j += kLanes) _mm256_storeu_ps(r + j, _mm256_mul_ps(_mm256_loadu_ps(r + j), inv));
    _mm256_maskstore_ps(r + n_full, tail, _mm256_mul_ps(LoadN(r + n_full, tail), inv));
  }
}

// --- PagedAttention (structure as in kernels_avx512.cc, with 8-key tiles) --------------------
constexpr int64_t kQueriesPerPass = 8;
constexpr int64_t kKeyTile = 8;

void Attention(const PagedAttentionArgs& a, int64_t t, int64_t kv_head) {
  const int64_t hd = a.head_dim;
  const int64_t nvec = (hd + kLanes - 1) / kLanes;
  const __m256i last = FirstN(hd - (nvec - 1) * kLanes);
  const __m256i all = FirstN(kLanes);
  const int64_t group = a.num_heads / a.num_kv_heads;
  const int64_t num_keys = static_cast<int64_t>(a.positions[t]) + 1;
  const BlockTableView table = a.block_tables[a.seq_idx[t]];
  const int64_t bs = a.block_size;
  const int64_t head_floats = bs * hd;
  alignas(32) float q[kQueriesPerPass][kMaxKernelHeadDim];
  alignas(32) float acc[kQueriesPerPass][kMaxKernelHeadDim];
  float mx[kQueriesPerPass];
  float l[kQueriesPerPass];
  const __m256 scale = _mm256_set1_ps(a.scale);
  for (int64_t g0 = 0; g0 < group; g0 += kQueriesPerPass) {
    const int64_t nq = std::min(kQueriesPerPass, group - g0);
    for (int64_t qi = 0; qi < nq; ++qi) {
      const float* src = a.q + t * a.q_stride + (kv_head * group + g0 + qi) * hd;
      for (int64_t v = 0; v < nvec; ++v) {
        const __m256 qv = LoadN(src + v * kLanes, v == nvec - 1 ? last : all);
        _mm256_store_ps(q[qi] + v * kLanes, _mm256_mul_ps(qv, scale));
        _mm256_store_ps(acc[qi] + v * kLanes, _mm256_setzero_ps());
      }
      mx[qi] = -std::numeric_limits<float>::infinity();
      l[qi] = 0.0f;
    }
    for (int64_t b = 0; b * bs < num_keys; ++b) {
      const int64_t block = table[b];
      const float* kb = a.k_cache + (block * a.num_kv_heads + kv_head) * head_floats;
      const float* vb = a.v_cache + (block * a.num_kv_heads + kv_head) * head_floats;
      const int64_t nb = std::min(bs, num_keys - b * bs);
      for (int64_t j0 = 0; j0 < nb; j0 += kKeyTile) {
        const int64_t nt = std::min(kKeyTile, nb - j0);
        const __m256i tmask = FirstN(nt);
        for (int64_t qi = 0; qi < nq; ++qi) {
          alignas(32) float s[kKeyTile];
          for (int64_t j = 0; j < nt; ++j) {
            const float* kr = kb + (j0 + j) * hd;
            __m256 d = _mm256_setzero_ps();
            for (int64_t v = 0; v + 1 < nvec; ++v) {
              d = _mm256_fmadd_ps(_mm256_load_ps(q[qi] + v * kLanes), _mm256_loadu_ps(kr + v * kLanes), d);
            }
            const int64_t lv = (nvec - 1) * kLanes;
            d = _mm256_fmadd_ps(_mm256_load_ps(q[qi] + lv), LoadN(kr + lv, last), d);
            s[j] = ReduceAdd(d);
          }
          const __m256 neg_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
          const __m256 sv = _mm256_blendv_ps(neg_inf, LoadN(s, tmask), _mm256_castsi256_ps(tmask));
          const float m_new = std::max(mx[qi], ReduceMax(sv));
          const float alpha = std::exp(mx[qi] - m_new);
          const __m256 p = _mm256_and_ps(Exp(_mm256_sub_ps(sv, _mm256_set1_ps(m_new))), _mm256_castsi256_ps(tmask));
          l[qi] = l[qi] * alpha + ReduceAdd(p);
          _mm256_store_ps(s, p);
          const __m256 alpha_v = _mm256_set1_ps(alpha);
          for (int64_t v = 0; v < nvec; ++v) {
            const __m256i mk = v == nvec - 1 ? last : all;
            __m256 av = _mm256_mul_ps(_mm256_load_ps(acc[qi] + v * kLanes), alpha_v);
            for (int64_t j = 0; j < nt; ++j) {
              av = _mm256_fmadd_ps(_mm256_set1_ps(s[j]), LoadN(vb + (j0 + j) * hd + v * kLanes, mk), av);
            }
            _mm256_store_ps(acc[qi] + v * kLanes, av);
          }
          mx[qi] = m_new;
        }
      }
    }
    for (int64_t qi = 0; qi < nq; ++qi) {
      float* o = a.out + (t * a.num_heads + kv_head * group + g0 + qi) * hd;
      const __m256 inv = _mm256_set1_ps(1.0f / l[qi]);
      for (int64_t v = 0; v < nvec; ++v) {
        _mm256_maskstore_ps(o + v * kLanes, v == nvec - 1 ? last : all,
                            _mm256_mul_ps(_mm256_load_ps(acc[qi] + v * kLanes), inv));
      }
    }
  }
}

// Activation quantization for the int8 kernels, bitwise the same as the portable QuantizeRowQ8
// (kernels.cc): the same IEEE division x / d and round-half-even, one 32-block per step.
void QuantizeRowQ8(const float* x, int64_t k, int64_t padded_k, int8_t* q, float* d, int32_t* sums) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < padded_k / 32; ++b) {
    __m256i qb = _mm256_setzero_si256();
    float db = 0.0f;
    if (b < k / 32) {
      __m256 v[4];
      __m256 amax = _mm256_setzero_ps();
      __m256 finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
      for (int j = 0; j < 4; ++j) {
        v[j] = _mm256_loadu_ps(x + 32 * b + 8 * j);
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[j]));
        // x - x is 0 for finite x, NaN for NaN and infinities.
        finite = _mm256_and_ps(finite, _mm256_cmp_ps(_mm256_sub_ps(v[j], v[j]), _mm256_setzero_ps(), _CMP_EQ_OQ));
      }
      const float scale = ReduceMax(amax) / 127.0f;
      if (_mm256_movemask_ps(finite) != 0xff) {
        db = std::numeric_limits<float>::quiet_NaN();
      } else if (scale != 0.0f) {
        db = scale;
        const __m256 vs = _mm256_set1_ps(scale);
        const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
        __m256i iv[4];
        for (int j = 0; j < 4; ++j) {
          const __m256 r = _mm256_round_ps(_mm256_div_ps(v[j], vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          iv[j] = _mm256_cvtps_epi32(_mm256_min_ps(hi, _mm256_max_ps(lo, r)));
        }
        // The packs work per 128-bit lane; the permute puts the 4-value groups back in order.
        const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(iv[0], iv[1]), _mm256_packs_epi32(iv[2], iv[3]));
        qb = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      }
    }
    d[b] = db;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * b), qb);
    StoreMinus128Sums4(qb, sums + 8 * b);
  }
}

constexpr KernelTable MakeTable() {
  KernelTable t;
  t.isa = KernelIsa::kAvx2;
  t.matmul[static_cast<int>(DType::kF32)] = &MatMulImpl<F32W>;
  t.matmul[static_cast<int>(DType::kF16)] = &MatMulImpl<F16W>;
  t.matmul[static_cast<int>(DType::kBF16)] = &MatMulImpl<Bf16W>;
  t.matmul[static_cast<int>(DType::kQ8_0)] = &MatMulQ<Q8W>;
  t.matmul[static_cast<int>(DType::kQ4_0)] = &MatMulQ<Q4W>;
  t.matmul[static_cast<int>(DType::kQ4_1)] = &MatMulQ<Q41W>;
  t.matmul[static_cast<int>(DType::kQ5_0)] = &MatMulQ<Q50W>;
  t.matmul[static_cast<int>(DType::kQ5_1)] = &MatMulQ<Q51W>;
  t.matmul[static_cast<int>(DType::kIQ4_NL)] = &MatMulQ<IQ4NLW>;
  t.matmul[static_cast<int>(DType::kQ2_K)] = &MatMulK<Q2KW>;
  t.matmul[static_cast<int>(DType::kQ3_K)] = &MatMulK<Q3KW>;
  t.matmul[static_cast<int>(DType::kQ4_K)] = &MatMulK<Q4KW>;
  t.matmul[static_cast<int>(DType::kQ5_K)] = &MatMulK<Q5KW>;
  t.matmul[static_cast<int>(DType::kQ6_K)] = &MatMulK<Q6KW>;
  t.quantized_x[static_cast<int>(DType::kQ8_0)] = true;
  t.quantized_x[static_cast<int>(DType::kQ4_0)] = true;
  t.quantized_x[static_cast<int>(DType::kQ4_1)] = true;
  t.quantized_x[static_cast<int>(DType::kQ5_0)] = true;
  t.quantized_x[static_cast<int>(DType::kQ5_1)] = true;
  t.quantized_x[static_cast<int>(DType::kIQ4_NL)] = true;
  t.quantized_x[static_cast<int>(DType::kQ2_K)] = true;
  t.quantized_x[static_cast<int>(DType::kQ3_K)] = true;
  t.quantized_x[static_cast<int>(DType::kQ4_K)] = true;
  t.quantized_x[static_cast<int>(DType::kQ5_K)] = true;
  t.quantized_x[static_cast<int>(DType::kQ6_K)] = true;
  t.rms_norm = &RmsNorm;
  t.rope = &Rope;
  t.silu_mul = &SiluMul;
  t.softmax = &Softmax;
  t.attention = &Attention;
  t.quantize_row_q8 = &QuantizeRowQ8;
  return t;
}

constexpr KernelTable kTable = MakeTable();

}  // namespace

// Constant-initialized: calling this runs no AVX2 instruction (callers check the CPU first).
const KernelTable* Avx2Table() { return &kTable; }

}  // namespace pagellm::kernels_internal

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // !__x86_64__

namespace pagellm::kernels_internal {
const KernelTable* Avx2Table() { return nullptr; }
}  // namespace pagellm::kernels_internal

#endif
