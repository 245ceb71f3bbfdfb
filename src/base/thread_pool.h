// ThreadPool: a fixed set of workers that run parallel loops with the calling thread.
// Passed explicitly (ThreadPool&) to whatever computes; there is no global pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"

namespace pagellm {

class ThreadPool {
 public:
  // `num_threads` counts the caller: 1 means everything runs on the calling thread.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(task) for every task in [0, num_tasks), spread over the pool, and returns when all
  // are done. Tasks are claimed dynamically. Must not be called from inside a task.
  void Run(int64_t num_tasks, absl::FunctionRef<void(int64_t task)> fn);

  // Splits [0, n) into about num_threads() * 4 chunks of at least `min_chunk` (and a multiple of
  // `align`) and runs fn(begin, end) on each.
  void ParallelFor(int64_t n, int64_t min_chunk, int64_t align,
                   absl::FunctionRef<void(int64_t begin, int64_t end)> fn);

  // Number of hardware threads this process may use (sched affinity), at least 1.
  static int AvailableCores();

 private:
  void WorkerLoop();
  void RunTasks();

  std::vector<std::thread> workers_;
  std::atomic<uint32_t> generation_{0};  // bumped once per Run; workers wait on it
  std::atomic<int64_t> next_task_{0};
  std::atomic<int32_t> busy_workers_{0};
  int64_t num_tasks_ = 0;
  const absl::FunctionRef<void(int64_t)>* fn_ = nullptr;
  std::atomic<bool> stop_{false};
};

}  // namespace pagellm
