// Code shared by the x86 kernel files, to include inside their `#pragma GCC target` region: each
// file gets its own copy (internal linkage), compiled for its ISA.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace pagellm::kernels_internal {

// Stores MatMulArgs::xs for one 32-block of quantized activations: sums[g] = -128 * (q[4g] + ...
// + q[4g + 3]), g = 0..7 (byte pairs, then pairs of pairs).
static inline void StoreMinus128Sums4(__m256i q, int32_t* sums) {
  const __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums), _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), s4), 7));
}

}  // namespace pagellm::kernels_internal
