// Read-bandwidth baseline: 64 tasks sum disjoint slices of a buffer with 4 independent vector
// accumulators (AVX2 where the CPU has it), so the loads, not the adds, set the pace.
#include "src/kernels/read_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "src/base/aligned_buffer.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pagellm {
namespace {

constexpr int64_t kTasks = 64;

uint64_t SumPortable(const uint64_t* p, size_t n) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) a0 += p[i], a1 += p[i + 1], a2 += p[i + 2], a3 += p[i + 3];
  for (; i < n; ++i) a0 += p[i];
  return a0 + a1 + a2 + a3;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t SumAvx2(const uint64_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
  }
  alignas(32) uint64_t out[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
  return out[0] + out[1] + out[2] + out[3] + SumPortable(p + i, n - i);
}
#endif

uint64_t Sum(const uint64_t* p, size_t n) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return SumAvx2(p, n);
#endif
  return SumPortable(p, n);
}

}  // namespace

double ReadBandwidth(ThreadPool& pool, const void* data, size_t bytes, int repeats) {
  const auto* words = static_cast<const uint64_t*>(data);
  const size_t n = bytes / sizeof(uint64_t);
  const size_t per_task = n / kTasks / 16 * 16;  // whole 128-byte steps keep every slice aligned
  if (per_task == 0) return 0.0;
  std::vector<uint64_t> sink(kTasks);
  double best = 0.0;
  for (int rep = 0; rep < std::max(1, repeats); ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.Run(kTasks, [&](int64_t t) { sink[t] = Sum(words + t * per_task, per_task); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The sums must look used, or the compiler may drop the reads.
    asm volatile("" : : "r"(sink.data()) : "memory");
    best = std::max(best, static_cast<double>(per_task * kTasks * sizeof(uint64_t)) / s * 1e-9);
  }
  return best;
}

double MeasureReadBandwidth(ThreadPool& pool, size_t bytes) {
  AlignedBuffer<uint64_t> buf(bytes / sizeof(uint64_t));
  buf.AdviseHugePages();
  uint64_t s = 0x9e3779b97f4a7c15ull;
  pool.ParallelFor(static_cast<int64_t>(buf.size()), 1 << 16, 1, [&](int64_t b, int64_t e) {
    uint64_t x = s + static_cast<uint64_t>(b);
    for (int64_t i = b; i < e; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      buf[i] = x | 1;  // never zero pages
    }
  });
  return ReadBandwidth(pool, buf.data(), bytes);
}

}  // namespace pagellm
