// AVX-512 (F/BW/VL/DQ + FMA/F16C) kernels: MatMul for F32/F16/BF16 weights with f32 activations,
// RmsNorm, Rope, SiluMul, Softmax, PagedAttention and the int8 activation quantization. 16 f32 lanes.
#include "src/kernels/kernels_internal.h"
#include "src/kernels/quantize.h"  // before the target region: x86_q8_sums_inl.h uses it

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

// Everything below is compiled for AVX-512 (see kernels_internal.h for why a pragma, not flags).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm*_undefined_* (GCC PR 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#endif

#include "src/kernels/x86_q8_sums_inl.h"

namespace pagellm::kernels_internal {
namespace {

constexpr int64_t kLanes = 16;

// Mask of the first n lanes, n in [0, 16].
inline __mmask16 FirstN(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

// Horizontal sum in one fixed order (every caller, every tile shape: batch invariance).
inline float ReduceAdd(__m512 v) {
  const __m256 s8 = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}

// exp(x) = 2^n * e^r with n = round(x / ln 2), |r| <= ln2 / 2; Cephes expf polynomial (about
// 1 ulp); vscalefps gives inf on overflow and 0 on underflow. NaN propagates.
inline __m512 Exp(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// --- MatMul ---------------------------------------------------------------------------------
// Weight loaders: 16 consecutive values of a row from element kk, as f32 (exact conversions).
struct F32W {
  static constexpr int64_t kBytes = 4;
  static __m512 Load(const uint8_t* row, int64_t kk) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + kk);
  }
  static __m512 Load(const uint8_t* row, int64_t kk, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + kk);
  }
};
struct F16W {
  static constexpr int64_t kBytes = 2;
  static __m512 Load(const uint8_t* row, int64_t kk) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * kk)));
  }
  static __m512 Load(const uint8_t* row, int64_t kk, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * kk));
  }
};
struct Bf16W {
  static constexpr int64_t kBytes = 2;
  static __m512 Widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __m512 Load(const uint8_t* row, int64_t kk) {
    return Widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * kk)));
  }
  static __m512 Load(const uint8_t* row, int64_t kk, __mmask16 m) {
    return Widen(_mm256_maskz_loadu_epi16(m, row + 2 * kk));
  }
};

// y[i0 .. i0+rows, j0 .. j0+cols] for an R x C register tile. Rows/columns beyond `rows`/`cols`
// repeat the last valid one and are not stored. Per element: one accumulator, one FMA per 16 k
// (masked tail), ReduceAdd, + bias, + y: the same sequence for every R, C.
template <class W, int R, int C>
inline void Tile(const MatMulArgs& a, int64_t i0, int rows, int64_t j0, int cols) {
  const float* x[R];
  const uint8_t* w[C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) x[r] = a.x + (i0 + (r < rows ? r : rows - 1)) * a.k;
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) w[c] = a.w + static_cast<uint64_t>(j0 + (c < cols ? c : cols - 1)) * a.w_row_bytes;
  __m512 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const int64_t k = a.k;
  const int64_t k_full = k & ~(kLanes - 1);
  for (int64_t kk = 0; kk < k_full; kk += kLanes) {
    __m512 xv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) xv[r] = _mm512_loadu_ps(x[r] + kk);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      // GEMV streams weights from DRAM: fetch the same offset of the next tile's rows (one tile
      // ahead, just past the rows in flight). Prefetches never fault and change no value.
      if constexpr (R == 1) _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(w[c]) + C * a.w_row_bytes + kk * W::kBytes), _MM_HINT_T0);
      const __m512 wv = W::Load(w[c], kk);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(xv[r], wv, acc[r][c]);
    }
  }
  if (k_full < k) {
    const __mmask16 m = FirstN(k - k_full);
    __m512 xv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) xv[r] = _mm512_maskz_loadu_ps(m, x[r] + k_full);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m512 wv = W::Load(w[c], k_full, m);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(xv[r], wv, acc[r][c]);
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

// One rectangle: a single row streams 8 weight rows at a time (GEMV); otherwise 4 x 4 tiles,
// sweeping every x row of the rectangle per group of 4 weight rows.
template <class W>
void MatMulImpl(const MatMulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
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

// --- Row kernels ----------------------------------------------------------------------------

void RmsNorm(const float* x, int64_t m, int64_t d, const float* weight, float eps, float* out) {
  const int64_t d_full = d & ~(kLanes - 1);
  const __mmask16 tail = FirstN(d - d_full);
  for (int64_t i = 0; i < m; ++i) {
    const float* xr = x + i * d;
    float* o = out + i * d;
    __m512 ss = _mm512_setzero_ps();
    for (int64_t j = 0; j < d_full; j += kLanes) {
      const __m512 v = _mm512_loadu_ps(xr + j);
      ss = _mm512_fmadd_ps(v, v, ss);
    }
    const __m512 vt = _mm512_maskz_loadu_ps(tail, xr + d_full);
    ss = _mm512_fmadd_ps(vt, vt, ss);
    const __m512 scale =
        _mm512_set1_ps(1.0f / std::sqrt(ReduceAdd(ss) / static_cast<float>(d) + eps));
    for (int64_t j = 0; j < d_full; j += kLanes) {
      const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(xr + j), scale);
      _mm512_storeu_ps(o + j, _mm512_mul_ps(v, _mm512_loadu_ps(weight + j)));
    }
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, xr + d_full), scale);
    _mm512_mask_storeu_ps(o + d_full, tail, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(tail, weight + d_full)));
  }
}

// out[e] = x[e] * c[e] + x[partner(e)] * s[e]: two products and one add, in the scalar kernel's
// order, so every ISA gives the scalar kernel's bits.
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
          const __m512 lo = _mm512_loadu_ps(p + e);
          const __m512 hi = _mm512_loadu_ps(p + half + e);
          const __m512 new_lo = _mm512_add_ps(_mm512_mul_ps(lo, _mm512_loadu_ps(c + e)),
                                              _mm512_mul_ps(hi, _mm512_loadu_ps(s + e)));
          const __m512 new_hi = _mm512_add_ps(_mm512_mul_ps(hi, _mm512_loadu_ps(c + half + e)),
                                              _mm512_mul_ps(lo, _mm512_loadu_ps(s + half + e)));
          _mm512_storeu_ps(p + e, new_lo);
          _mm512_storeu_ps(p + half + e, new_hi);
        }
      } else if (pairing == RopePairing::kInterleaved && hd % kLanes == 0) {
        for (int64_t e = 0; e < hd; e += kLanes) {
          const __m512 v = _mm512_loadu_ps(p + e);
          const __m512 swapped = _mm512_permute_ps(v, 0xB1);  // (x1, x0, x3, x2, ...)
          _mm512_storeu_ps(p + e, _mm512_add_ps(_mm512_mul_ps(v, _mm512_loadu_ps(c + e)),
                                                _mm512_mul_ps(swapped, _mm512_loadu_ps(s + e))));
        }
      } else {
        RopeHeadScalar(p, c, s, hd, pairing);
      }
    }
  }
}

inline __m512 SiluMulVec(__m512 g, __m512 u) {
  const __m512 e = Exp(_mm512_sub_ps(_mm512_setzero_ps(), g));
  return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

void SiluMul(const float* gate, const float* up, float* out, int64_t n) {
  const int64_t n_full = n & ~(kLanes - 1);
  for (int64_t i = 0; i < n_full; i += kLanes) {
    _mm512_storeu_ps(out + i, SiluMulVec(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  }
  if (n_full < n) {
    const __mmask16 m = FirstN(n - n_full);
    _mm512_mask_storeu_ps(out + n_full, m, SiluMulVec(_mm512_maskz_loadu_ps(m, gate + n_full),
                                                      _mm512_maskz_loadu_ps(m, up + n_full)));
  }
}

void Softmax(float* x, int64_t m, int64_t n) {
  const int64_t n_full = n & ~(kLanes - 1);
  const __mmask16 tail = FirstN(n - n_full);
  for (int64_t i = 0; i < m; ++i) {
    float* r = x + i * n;
    __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t j = 0; j < n_full; j += kLanes) mx = _mm512_max_ps(mx, _mm512_loadu_ps(r + j));
    mx = _mm512_mask_max_ps(mx, tail, mx, _mm512_maskz_loadu_ps(tail, r + n_full));
    const __m512 row_max = _mm512_set1_ps(_mm512_reduce_max_ps(mx));  // max is order-free
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < n_full; j += kLanes) {
      const __m512 e = Exp(_mm512_sub_ps(_mm512_loadu_ps(r + j), row_max));
      _mm512_storeu_ps(r + j, e);
      sum = _mm512_add_ps(sum, e);
    }
    const __m512 et = _mm512_maskz_mov_ps(tail, Exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, r + n_full), row_max)));
    _mm512_mask_storeu_ps(r + n_full, tail, et);
    sum = _mm512_add_ps(sum, et);
    const __m512 inv = _mm512_set1_ps(1.0f / ReduceAdd(sum));
    for (int64_t j = 0; j < n_full; j += kLanes) _mm512_storeu_ps(r + j, _mm512_mul_ps(_mm512_loadu_ps(r + j), inv));
    _mm512_mask_storeu_ps(r + n_full, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, r + n_full), inv));
  }
}

// --- PagedAttention -------------------------------------------------------------------------
constexpr int64_t kQueriesPerPass = 8;  // query heads of one GQA group sharing K/V loads
constexpr int64_t kKeyTile = 16;        // keys per online-softmax update (one vector of scores)

void Attention(const PagedAttentionArgs& a, int64_t t, int64_t kv_head) {
  const int64_t hd = a.head_dim;
  const int64_t nvec = (hd + kLanes - 1) / kLanes;
  const __mmask16 last = FirstN(hd - (nvec - 1) * kLanes);
  const int64_t group = a.num_heads / a.num_kv_heads;
  const int64_t num_keys = static_cast<int64_t>(a.positions[t]) + 1;
  const BlockTableView table = a.block_tables[a.seq_idx[t]];
  const int64_t bs = a.block_size;
  const int64_t head_floats = bs * hd;  // one KV head of one block
  alignas(64) float q[kQueriesPerPass][kMaxKernelHeadDim];
  alignas(64) float acc[kQueriesPerPass][kMaxKernelHeadDim];
  float mx[kQueriesPerPass];
  float l[kQueriesPerPass];
  const __m512 scale = _mm512_set1_ps(a.scale);
  for (int64_t g0 = 0; g0 < group; g0 += kQueriesPerPass) {
    const int64_t nq = std::min(kQueriesPerPass, group - g0);
    for (int64_t qi = 0; qi < nq; ++qi) {
      const float* src = a.q + t * a.q_stride + (kv_head * group + g0 + qi) * hd;
      for (int64_t v = 0; v < nvec; ++v) {
        const __mmask16 mk = v == nvec - 1 ? last : static_cast<__mmask16>(0xffff);
        _mm512_store_ps(q[qi] + v * kLanes, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, src + v * kLanes), scale));
        _mm512_store_ps(acc[qi] + v * kLanes, _mm512_setzero_ps());
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
        const __mmask16 tmask = FirstN(nt);
        for (int64_t qi = 0; qi < nq; ++qi) {
          alignas(64) float s[kKeyTile];
          for (int64_t j = 0; j < nt; ++j) {
            const float* kr = kb + (j0 + j) * hd;
            __m512 d = _mm512_setzero_ps();
            for (int64_t v = 0; v + 1 < nvec; ++v) {
              d = _mm512_fmadd_ps(_mm512_load_ps(q[qi] + v * kLanes), _mm512_loadu_ps(kr + v * kLanes), d);
            }
            const int64_t lv = (nvec - 1) * kLanes;
            d = _mm512_fmadd_ps(_mm512_load_ps(q[qi] + lv), _mm512_maskz_loadu_ps(last, kr + lv), d);
            s[j] = ReduceAdd(d);
          }
          const __m512 sv = _mm512_maskz_loadu_ps(tmask, s);
          const float m_new = std::max(mx[qi], _mm512_mask_reduce_max_ps(tmask, sv));
          const float alpha = std::exp(mx[qi] - m_new);
          const __m512 p = _mm512_maskz_mov_ps(tmask, Exp(_mm512_sub_ps(sv, _mm512_set1_ps(m_new))));
          l[qi] = l[qi] * alpha + ReduceAdd(p);
          _mm512_store_ps(s, p);
          const __m512 alpha_v = _mm512_set1_ps(alpha);
          for (int64_t v = 0; v < nvec; ++v) {
            const __mmask16 mk = v == nvec - 1 ? last : static_cast<__mmask16>(0xffff);
            __m512 av = _mm512_mul_ps(_mm512_load_ps(acc[qi] + v * kLanes), alpha_v);
            for (int64_t j = 0; j < nt; ++j) {
              av = _mm512_fmadd_ps(_mm512_set1_ps(s[j]), _mm512_maskz_loadu_ps(mk, vb + (j0 + j) * hd + v * kLanes), av);
            }
            _mm512_store_ps(acc[qi] + v * kLanes, av);
          }
          mx[qi] = m_new;
        }
      }
    }
    for (int64_t qi = 0; qi < nq; ++qi) {
      float* o = a.out + (t * a.num_heads + kv_head * group + g0 + qi) * hd;
      const __m512 inv = _mm512_set1_ps(1.0f / l[qi]);
      for (int64_t v = 0; v < nvec; ++v) {
        const __mmask16 mk = v == nvec - 1 ? last : static_cast<__mmask16>(0xffff);
        _mm512_mask_storeu_ps(o + v * kLanes, mk, _mm512_mul_ps(_mm512_load_ps(acc[qi] + v * kLanes), inv));
      }
    }
  }
}

// --- Activation quantization for the int8 MatMul kernels ------------------------------------
// Bitwise the same as the portable QuantizeRowQ8 (kernels.cc) built on QuantizeActivationRow:
// the same IEEE division x / d and round-half-even, one 32-block per step.
void QuantizeRowQ8(const float* x, int64_t k, int64_t padded_k, int8_t* q, float* d, int32_t* sums) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  for (int64_t b = 0; b < padded_k / 32; ++b) {
    __m256i qb = _mm256_setzero_si256();
    float db = 0.0f;
    if (b < k / 32) {
      const __m512 x0 = _mm512_loadu_ps(x + 32 * b);
      const __m512 x1 = _mm512_loadu_ps(x + 32 * b + 16);
      // QNaN | +Inf | -Inf | SNaN
      const bool finite = (_mm512_fpclass_ps_mask(x0, 0x99) | _mm512_fpclass_ps_mask(x1, 0x99)) == 0;
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, x0), _mm512_andnot_ps(sign, x1)));
      const float scale = amax / 127.0f;
      if (!finite) {
        db = std::numeric_limits<float>::quiet_NaN();
      } else if (scale != 0.0f) {
        db = scale;
        const __m512 vs = _mm512_set1_ps(scale);
        const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
        auto quant = [&](__m512 v) {
          v = _mm512_roundscale_ps(_mm512_div_ps(v, vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          return _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_min_ps(hi, _mm512_max_ps(lo, v))));
        };
        qb = _mm256_inserti128_si256(_mm256_castsi128_si256(quant(x0)), quant(x1), 1);
      }
    }
    d[b] = db;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * b), qb);
    StoreMinus128Sums4(qb, sums + 8 * b);
  }
}

constexpr KernelTable MakeTable() {
  KernelTable t;
  t.isa = KernelIsa::kAvx512;
  t.matmul[static_cast<int>(DType::kF32)] = &MatMulImpl<F32W>;
  t.matmul[static_cast<int>(DType::kF16)] = &MatMulImpl<F16W>;
  t.matmul[static_cast<int>(DType::kBF16)] = &MatMulImpl<Bf16W>;
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

// Constant-initialized: calling this runs no AVX-512 instruction (callers check the CPU first).
const KernelTable* Avx512Table() { return &kTable; }

}  // namespace pagellm::kernels_internal

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // !__x86_64__

namespace pagellm::kernels_internal {
const KernelTable* Avx512Table() { return nullptr; }
}  // namespace pagellm::kernels_internal

#endif
