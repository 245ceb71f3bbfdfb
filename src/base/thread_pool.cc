// ThreadPool: workers spin briefly, then sleep on a wake counter (C++20 atomic wait); tasks are
// claimed with a CAS on a word that carries the Run's generation.
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
constexpr int kSpinIterations = 4000;  // tens of microseconds, then sleep
}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  const int n = std::max(1, num_threads);
  workers_.reserve(n - 1);
  for (int i = 1; i < n; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  wake_.fetch_add(1, std::memory_order_acq_rel);
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::AvailableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::RunTasks(uint64_t gen) {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if ((s >> (2 * kTaskBits)) != gen) return;
    const uint64_t n = (s >> kTaskBits) & kTaskMask;
    const uint64_t next = s & kTaskMask;
    if (next >= n) return;
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;  // s was reloaded
    }
    // The claim succeeded, so this Run cannot end before the task is counted done: fn_ is stable.
    (*fn_)(static_cast<int64_t>(next));
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) done_.notify_one();
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::WorkerLoop() {
  uint32_t seen = 0;  // the wake count at construction; a late-starting worker must not skip a Run
  for (;;) {
    uint32_t w = wake_.load(std::memory_order_acquire);
    for (int i = 0; w == seen && i < kSpinIterations; ++i) {
      PAGELLM_PAUSE();
      w = wake_.load(std::memory_order_acquire);
    }
    while (w == seen) {
      wake_.wait(seen, std::memory_order_acquire);
      w = wake_.load(std::memory_order_acquire);
    }
    seen = w;
    if (stop_.load(std::memory_order_acquire)) return;
    const uint64_t s = state_.load(std::memory_order_acquire);
    RunTasks(s >> (2 * kTaskBits));
  }
}

void ThreadPool::Run(int64_t num_tasks, absl::FunctionRef<void(int64_t)> fn) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (int64_t t = 0; t < num_tasks; ++t) fn(t);
    return;
  }
  if (num_tasks > kMaxTasksPerRun) {
    for (int64_t base = 0; base < num_tasks; base += kMaxTasksPerRun) {
      const int64_t count = std::min(kMaxTasksPerRun, num_tasks - base);
      Run(count, [&](int64_t t) { fn(base + t); });
    }
    return;
  }
  fn_ = &fn;
  done_.store(0, std::memory_order_relaxed);
  generation_ = (generation_ + 1) & ((uint64_t{1} << (64 - 2 * kTaskBits)) - 1);
  const uint64_t n = static_cast<uint64_t>(num_tasks);
  state_.store((generation_ << (2 * kTaskBits)) | (n << kTaskBits), std::memory_order_release);
  wake_.fetch_add(1, std::memory_order_acq_rel);
  wake_.notify_all();
  RunTasks(generation_);
  uint32_t done = done_.load(std::memory_order_acquire);
  for (int i = 0; done != n && i < kSpinIterations; ++i) {
    PAGELLM_PAUSE();
    done = done_.load(std::memory_order_acquire);
  }
  while (done != n) {
    done_.wait(done, std::memory_order_acquire);
    done = done_.load(std::memory_order_acquire);
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
