// EngineLoop: runs an Engine on its own thread. Callers on any thread submit requests and read
// each request's outputs from its OutputStream; the input queue and the streams are the only
// shared mutable state.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/base/status.h"
#include "src/engine/engine.h"

namespace pagellm {

// The outputs of one request, in order. The engine thread pushes; one consumer reads.
class OutputStream {
 public:
  // Waits for the next output. nullopt once the final output has been read (or on error; then
  // status() says why).
  std::optional<RequestOutput> Next();
  // Like Next but gives up after `timeout` (then returns nullopt with done() still false).
  std::optional<RequestOutput> NextFor(std::chrono::milliseconds timeout);
  bool done() const;
  Status status() const;
  const std::string& request_id() const { return request_id_; }

  explicit OutputStream(std::string request_id) : request_id_(std::move(request_id)) {}
  void Push(RequestOutput output);
  void Fail(Status status);

 private:
  std::optional<RequestOutput> PopLocked();

  const std::string request_id_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestOutput> queue_;
  bool closed_ = false;  // the final output (or an error) was pushed
  Status status_;
};

// Receives one request's outputs on the engine thread: each RequestOutput in order (the last has
// finished == true), or one error Status if the request cannot finish (engine stopped or failed).
// Must not block: copy, format, or post the data elsewhere. A callback that throws fails its own
// request alone: the request is aborted (its KV blocks freed), the callback is called once more
// with an Internal error (so that it can end its response), then never again; the loop goes on.
using OutputCallback = std::function<void(StatusOr<RequestOutput>)>;

struct EngineSnapshot {
  EngineStats stats;
  bool alive = true;
  Status error;
};

class EngineLoop {
 public:
  explicit EngineLoop(std::unique_ptr<Engine> engine);
  ~EngineLoop();  // aborts whatever still runs, then joins the thread

  // Queues a request and waits until the engine accepted or refused it (validation errors,
  // ResourceExhausted when the queue is full, Unavailable when the loop is dead).
  StatusOr<std::shared_ptr<OutputStream>> Submit(EngineRequest request);
  // The same, delivering outputs to `callback` on the engine thread instead of a stream.
  Status Submit(EngineRequest request, OutputCallback callback);
  // Queues several requests at once and waits once (Submit waits up to one engine step per
  // request). Returns one status per request, in order; refused ones never call back.
  std::vector<Status> SubmitBatch(std::vector<std::pair<EngineRequest, OutputCallback>> requests);
  std::vector<StatusOr<std::shared_ptr<OutputStream>>> SubmitBatch(std::vector<EngineRequest> requests);
  // Aborts a request (unknown ids are ignored). Its stream ends with finish_reason "abort".
  void Abort(const std::string& request_id);
  // Aborts every request and stops the thread; later Submits fail with Unavailable.
  void Shutdown();

  EngineSnapshot Snapshot() const;
  bool alive() const { return alive_.load(); }
  // Immutable after construction, safe from any thread.
  const Engine& engine() const { return *engine_; }
  // Called on the engine thread after each step with the fresh stats (e.g. metrics export).
  void SetStepObserver(std::function<void(const EngineStats&, const std::vector<RequestOutput>&)> fn);
  // Profiling: every forward pass adds its per-op times to `*profile` (null stops). Call it, and
  // read `*profile`, only while no request is in flight: the engine thread writes it in steps.
  void SetForwardProfile(ForwardProfile* profile);
  // Tests (fault injection): runs on the engine thread before every step. An error or an exception
  // counts as a failed model step: the loop stops, every request fails, alive() turns false.
  void SetStepHookForTesting(std::function<Status()> fn);

 private:
  struct Pending {
    EngineRequest request;
    OutputCallback callback;
    std::promise<Status>* accepted;
  };
  void Run();
  void DrainInputs();  // engine thread
  void Deliver(std::vector<RequestOutput>& outputs);  // engine thread
  StatusOr<std::vector<RequestOutput>> GuardedStep();  // engine thread: Step, exceptions -> Status

  std::unique_ptr<Engine> engine_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> inputs_;
  std::vector<std::string> aborts_;
  bool stop_ = false;
  absl::flat_hash_map<std::string, OutputCallback> callbacks_;  // engine thread only
  EngineSnapshot snapshot_;  // guarded by mu_
  std::function<void(const EngineStats&, const std::vector<RequestOutput>&)> observer_;
  std::function<Status()> step_hook_;  // guarded by mu_
  std::atomic<bool> alive_{true};
  std::thread thread_;
};

}  // namespace pagellm
