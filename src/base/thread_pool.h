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
  // are done. Tasks are claimed dynamically. Must not be called from inside a task, nor from two
  // threads at once. More than 2^20 - 1 tasks run in several rounds.
  void Run(int64_t num_tasks, absl::FunctionRef<void(int64_t task)> fn);

  // Splits [0, n) into about num_threads() * 4 chunks of at least `min_chunk` (and a multiple of
  // `align`) and runs fn(begin, end) on each.
  void ParallelFor(int64_t n, int64_t min_chunk, int64_t align,
                   absl::FunctionRef<void(int64_t begin, int64_t end)> fn);

  // Number of hardware threads this process may use (sched affinity), at least 1.
  static int AvailableCores();

 private:
  // state_ packs [generation:24][num_tasks:20][next_task:20]: a worker claims a task with one CAS
  // that also proves the task belongs to the Run it woke up for, so a late worker can never run a
  // task of a finished Run (and the caller never waits for workers that found nothing to do).
  static constexpr int kTaskBits = 20;
  static constexpr uint64_t kTaskMask = (uint64_t{1} << kTaskBits) - 1;
  static constexpr int64_t kMaxTasksPerRun = (int64_t{1} << kTaskBits) - 1;

  void WorkerLoop();
  // Claims and runs tasks of generation `gen` until none are left.
  void RunTasks(uint64_t gen);

  std::vector<std::thread> workers_;
  std::atomic<uint32_t> wake_{0};      // bumped once per Run; sleeping workers wait on it
  std::atomic<uint64_t> state_{0};
  std::atomic<uint32_t> done_{0};      // tasks finished in the current Run
  const absl::FunctionRef<void(int64_t)>* fn_ = nullptr;
  uint64_t generation_ = 0;            // caller side only
  std::atomic<bool> stop_{false};
};

}  // namespace pagellm
