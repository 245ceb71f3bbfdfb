// Memory-read bandwidth baseline: the GB/s a weight-streaming GEMV can hope for on this machine,
// measured with the threads of a pool (kernels_bench, `pagellm bench latency --profile`).
#pragma once

#include <cstddef>

#include "src/base/thread_pool.h"

namespace pagellm {

// GB/s (1e9 bytes/s) of summing `bytes` at `data` (64-byte aligned) with every thread of `pool`:
// the best of `repeats` passes.
double ReadBandwidth(ThreadPool& pool, const void* data, size_t bytes, int repeats = 3);

// The same over a fresh buffer of `bytes` (default 1 GiB, far beyond the caches) in transparent
// huge pages like the model's weights, allocated, filled and freed here.
double MeasureReadBandwidth(ThreadPool& pool, size_t bytes = size_t{1} << 30);

}  // namespace pagellm
