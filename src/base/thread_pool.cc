// ThreadPool: workers spin briefly on a generation counter, then sleep on it (C++20 atomic wait).
#include "src/base/thread_pool.h"

#include <sched.h>

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#define PAGELLM_PAUSE() _mm_pause()
#else
#define PAGELLM_PAUSE() ((void)0)
#endif

namespace pagellm {
namespace {
constexpr int kSpinIterations = 20000;  // ~tens of microseconds before sleeping
}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  const int n = std::max(1, num_threads);
  workers_.reserve(n - 1);
  for (int i = 1; i < n; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::AvailableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::RunTasks() {
  for (;;) {
    const int64_t t = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (t >= num_tasks_) break;
    (*fn_)(t);
  }
}

void ThreadPool::WorkerLoop() {
  uint32_t seen = 0;  // the generation at construction; a late-starting worker must not skip a Run
  for (;;) {
    uint32_t gen = generation_.load(std::memory_order_acquire);
    for (int i = 0; gen == seen && i < kSpinIterations; ++i) {
      PAGELLM_PAUSE();
      gen = generation_.load(std::memory_order_acquire);
    }
    while (gen == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    RunTasks();
    if (busy_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) busy_workers_.notify_one();
  }
}

void ThreadPool::Run(int64_t num_tasks, absl::FunctionRef<void(int64_t)> fn) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (int64_t t = 0; t < num_tasks; ++t) fn(t);
    return;
  }
  fn_ = &fn;
  num_tasks_ = num_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  busy_workers_.store(static_cast<int32_t>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  RunTasks();
  int32_t busy = busy_workers_.load(std::memory_order_acquire);
  for (int i = 0; busy != 0 && i < kSpinIterations; ++i) {
    PAGELLM_PAUSE();
    busy = busy_workers_.load(std::memory_order_acquire);
  }
  while (busy != 0) {
    busy_workers_.wait(busy, std::memory_order_acquire);
    busy = busy_workers_.load(std::memory_order_acquire);
  }
  fn_ = nullptr;
}

void ThreadPool::ParallelFor(int64_t n, int64_t min_chunk, int64_t align,
                             absl::FunctionRef<void(int64_t, int64_t)> fn) {
  if (n <= 0) return;
  align = std::max<int64_t>(1, align);
  int64_t chunk = std::max<int64_t>(min_chunk, (n + num_threads() * 4 - 1) / (num_threads() * 4));
  chunk = std::max<int64_t>(align, (chunk + align - 1) / align * align);
  const int64_t num_chunks = (n + chunk - 1) / chunk;
  Run(num_chunks, [&](int64_t c) { fn(c * chunk, std::min(n, (c + 1) * chunk)); });
}

}  // namespace pagellm
