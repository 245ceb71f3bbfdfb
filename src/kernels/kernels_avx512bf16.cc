// AVX512-BF16 MatMul for BF16 weights: `vdpbf16ps` on activations rounded to bf16 (accuracy
// trade-off described in kernels.h; kAvx512 keeps f32 activations).
#include "src/kernels/kernels_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm*_undefined_* (GCC PR 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")
#endif

namespace pagellm::kernels_internal {
namespace {

constexpr int64_t kStep = 32;  // bf16 pairs per vdpbf16ps

inline __mmask16 FirstN16(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

inline float ReduceAdd(__m512 v) {
  const __m256 s8 = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}

// 32 activations of a row packed to bf16 by the driver (MatMulArgs::xb, zero-padded to whole steps).
inline __m512bh LoadX(const uint16_t* x, int64_t kk) {
  return (__m512bh)_mm512_loadu_si512(x + kk);
}
inline __m512bh LoadW(const uint8_t* row, int64_t kk) {
  return (__m512bh)_mm512_loadu_si512(row + 2 * kk);
}
inline __m512bh LoadW(const uint8_t* row, int64_t kk, int64_t n /* < 32 */) {
  return (__m512bh)_mm512_maskz_loadu_epi16(static_cast<__mmask32>((1ull << n) - 1ull), row + 2 * kk);
}

// Same structure as the f32 tile in kernels_avx512.cc; per element: one accumulator, one
// vdpbf16ps per 32 k (masked weight tail against zero x padding), ReduceAdd, + bias, + y,
// whatever R and C.
template <int R, int C>
inline void Tile(const MatMulArgs& a, int64_t i0, int rows, int64_t j0, int cols) {
  const uint16_t* x[R];
  const uint8_t* w[C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) x[r] = a.xb + (i0 + (r < rows ? r : rows - 1)) * a.xb_stride;
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) w[c] = a.w + static_cast<uint64_t>(j0 + (c < cols ? c : cols - 1)) * a.w_row_bytes;
  __m512 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const int64_t k = a.k;
  const int64_t k_full = k - k % kStep;
  for (int64_t kk = 0; kk < k_full; kk += kStep) {
    __m512bh xv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) xv[r] = LoadX(x[r], kk);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m512bh wv = LoadW(w[c], kk);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], xv[r], wv);
    }
  }
  if (k_full < k) {
    const int64_t rest = k - k_full;
    __m512bh xv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) xv[r] = LoadX(x[r], k_full);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m512bh wv = LoadW(w[c], k_full, rest);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], xv[r], wv);
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

// Tile<rows, kTileC> for the last rows < kTileR of a column group.
template <int R>
inline void TailRows(const MatMulArgs& a, int64_t i, int rows, int64_t j, int cols);
template <>
inline void TailRows<0>(const MatMulArgs&, int64_t, int, int64_t, int) {}

constexpr int kTileR = 4;
constexpr int kTileC = 4;

template <int R>
inline void TailRows(const MatMulArgs& a, int64_t i, int rows, int64_t j, int cols) {
  if (rows == R) {
    Tile<R, kTileC>(a, i, R, j, cols);
  } else {
    TailRows<R - 1>(a, i, rows, j, cols);
  }
}

// GEMV (one x row) reads one weight row after the other: the thread's piece of the matrix is then
// a single sequential stream, which the hardware prefetchers follow best. Interleaved A/B of decode
// (2 threads, shared host, 2026-12-03): 1.3-1.5x faster than 8 rows at a time with a software
// prefetch of the next 8 (Qwen2.5-0.5B BF16 28-31 -> 39-57 t/s; TinyLlama 13-14 -> 15-20).
void MatMulBf16Dot(const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (m1 - m0 == 1) {
    for (int64_t j = n0; j < n1; ++j) Tile<1, 1>(a, m0, 1, j, 1);
    return;
  }
  for (int64_t j = n0; j < n1; j += kTileC) {
    const int cols = static_cast<int>(std::min<int64_t>(kTileC, n1 - j));
    int64_t i = m0;
    for (; i + kTileR <= m1; i += kTileR) Tile<kTileR, kTileC>(a, i, kTileR, j, cols);
    TailRows<kTileR - 1>(a, i, static_cast<int>(m1 - i), j, cols);
  }
}

// x[0, k) to bf16 with vcvtne2ps2bf16 (round to nearest even), zeros up to padded_k.
void RoundRowToBf16(const float* x, int64_t k, int64_t padded_k, uint16_t* out) {
  int64_t i = 0;
  for (; i + kStep <= k; i += kStep) {
    _mm512_storeu_si512(out + i, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i)));
  }
  for (; i < padded_k; i += kStep) {
    const int64_t n = std::max<int64_t>(0, k - i);
    const __mmask16 lo = FirstN16(std::min<int64_t>(n, 16));
    const __mmask16 hi = FirstN16(std::clamp<int64_t>(n - 16, 0, 16));
    _mm512_storeu_si512(out + i, (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, x + i + 16), _mm512_maskz_loadu_ps(lo, x + i)));
  }
}

}  // namespace

MatMulFn Avx512Bf16MatMul() { return &MatMulBf16Dot; }
decltype(KernelTable::round_row_to_bf16) Avx512Bf16RoundRow() { return &RoundRowToBf16; }

}  // namespace pagellm::kernels_internal

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // !__x86_64__

namespace pagellm::kernels_internal {
MatMulFn Avx512Bf16MatMul() { return nullptr; }
decltype(KernelTable::round_row_to_bf16) Avx512Bf16RoundRow() { return nullptr; }
}  // namespace pagellm::kernels_internal

#endif
