// Code shared by the x86 kernel files (stores of the int8 activation sums, K-quant scale
// decoding), to include inside their `#pragma GCC target` region: each file gets its own copy
// (internal linkage), compiled for its ISA.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "src/kernels/quantize.h"  // include it before the target region too (its inline functions)

namespace pagellm::kernels_internal {

// Stores MatMulArgs::xs for one 32-block of quantized activations: sums[g] = -128 * (q[4g] + ...
// + q[4g + 3]), g = 0..7 (byte pairs, then pairs of pairs).
static inline void StoreMinus128Sums4(__m256i q, int32_t* sums) {
  const __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums), _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), s4), 7));
}

// Q2_K: the 16 4-bit scales (sc & 15) and mins (sc >> 4) of the block at `blk`, as bytes.
static inline void Q2KScalesAndMins(const uint8_t* blk, __m128i* sc, __m128i* m) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk));
  *sc = _mm_and_si128(raw, _mm_set1_epi8(0x0f));
  *m = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f));
}

// Q3_K: the 16 signed scales (sc - 32, -32..31) of the block at `blk` as int8, decoded as ggml does.
static inline __m128i Q3KSignedScales(const uint8_t* blk) {
  alignas(16) uint8_t sc[16];
  UnpackQ3KScales(blk + 96, sc);
  return _mm_sub_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(sc)), _mm_set1_epi8(32));
}

}  // namespace pagellm::kernels_internal
