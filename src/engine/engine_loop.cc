// EngineLoop: the engine thread (drain inputs, step, route outputs) and the caller-side API.
#include "src/engine/engine_loop.h"

#include <cstdio>
#include <exception>

#include "src/base/check.h"

namespace pagellm {
namespace {

// Calls `callback` with `output`; false (after logging) if it threw.
bool InvokeCallback(const OutputCallback& callback, StatusOr<RequestOutput> output, const std::string& id) {
  try {
    callback(std::move(output));
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine loop: the output callback of request %s threw: %s\n", id.c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "engine loop: the output callback of request %s threw a non-exception\n", id.c_str());
  }
  return false;
}

}  // namespace

std::optional<RequestOutput> OutputStream::PopLocked() {
  if (queue_.empty()) return std::nullopt;
  RequestOutput o = std::move(queue_.front());
  queue_.pop_front();
  return o;
}

std::optional<RequestOutput> OutputStream::Next() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty() || closed_; });
  return PopLocked();
}

std::optional<RequestOutput> OutputStream::NextFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || closed_; });
  return PopLocked();
}

bool OutputStream::done() const {
  std::lock_guard lock(mu_);
  return closed_ && queue_.empty();
}

Status OutputStream::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void OutputStream::Push(RequestOutput output) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = output.finished;
    queue_.push_back(std::move(output));
  }
  cv_.notify_all();
}

void OutputStream::Fail(Status status) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    status_ = std::move(status);
  }
  cv_.notify_all();
}

EngineLoop::EngineLoop(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {
  snapshot_.stats = engine_->Stats();
  thread_ = std::thread([this] { Run(); });
}

EngineLoop::~EngineLoop() { Shutdown(); }

void EngineLoop::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EngineLoop::SetStepObserver(
    std::function<void(const EngineStats&, const std::vector<RequestOutput>&)> fn) {
  std::lock_guard lock(mu_);
  observer_ = std::move(fn);
}

void EngineLoop::SetForwardProfile(ForwardProfile* profile) {
  // The engine thread reads the pointer in its steps; taking mu_ orders this write before the
  // next step (the thread takes mu_ for its inputs first).
  std::lock_guard lock(mu_);
  engine_->SetForwardProfile(profile);
}

void EngineLoop::SetStepHookForTesting(std::function<Status()> fn) {
  std::lock_guard lock(mu_);
  step_hook_ = std::move(fn);
}

StatusOr<std::shared_ptr<OutputStream>> EngineLoop::Submit(EngineRequest request) {
  std::vector<EngineRequest> one;
  one.push_back(std::move(request));
  return std::move(SubmitBatch(std::move(one))[0]);
}

Status EngineLoop::Submit(EngineRequest request, OutputCallback callback) {
  std::vector<std::pair<EngineRequest, OutputCallback>> one;
  one.emplace_back(std::move(request), std::move(callback));
  return SubmitBatch(std::move(one))[0];
}

std::vector<Status> EngineLoop::SubmitBatch(std::vector<std::pair<EngineRequest, OutputCallback>> requests) {
  const size_t n = requests.size();
  std::vector<std::promise<Status>> accepted(n);
  std::vector<Status> result(n);
  std::vector<bool> queued(n, false);
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < n; ++i) {
      if (stop_ || !alive_.load()) {
        result[i] = absl::UnavailableError(ToAbsl(
            snapshot_.error.ok() ? std::string("the engine is shutting down")
                                 : StrCat("the engine stopped: ", snapshot_.error.message())));
      } else if (static_cast<int64_t>(inputs_.size()) >= engine_->config().max_num_waiting) {
        result[i] = absl::ResourceExhaustedError("too many requests are waiting to be admitted; retry later");
      } else {
        inputs_.push_back({std::move(requests[i].first), std::move(requests[i].second), &accepted[i]});
        queued[i] = true;
      }
    }
  }
  cv_.notify_all();
  for (size_t i = 0; i < n; ++i) {
    if (queued[i]) result[i] = accepted[i].get_future().get();
  }
  return result;
}

std::vector<StatusOr<std::shared_ptr<OutputStream>>> EngineLoop::SubmitBatch(std::vector<EngineRequest> requests) {
  std::vector<std::shared_ptr<OutputStream>> streams;
  std::vector<std::pair<EngineRequest, OutputCallback>> batch;
  for (EngineRequest& r : requests) {
    auto stream = std::make_shared<OutputStream>(r.request_id);
    streams.push_back(stream);
    batch.emplace_back(std::move(r), [stream](StatusOr<RequestOutput> o) {
      if (o.ok()) {
        stream->Push(std::move(*o));
      } else {
        stream->Fail(o.status());
      }
    });
  }
  std::vector<Status> statuses = SubmitBatch(std::move(batch));
  std::vector<StatusOr<std::shared_ptr<OutputStream>>> out;
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (statuses[i].ok()) {
      out.emplace_back(streams[i]);
    } else {
      out.emplace_back(statuses[i]);
    }
  }
  return out;
}

void EngineLoop::Abort(const std::string& request_id) {
  {
    std::lock_guard lock(mu_);
    aborts_.push_back(request_id);
  }
  cv_.notify_all();
}

EngineSnapshot EngineLoop::Snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void EngineLoop::DrainInputs() {
  std::deque<Pending> inputs;
  std::vector<std::string> aborts;
  {
    std::lock_guard lock(mu_);
    inputs.swap(inputs_);
    aborts.swap(aborts_);
  }
  for (Pending& p : inputs) {
    const std::string id = p.request.request_id;
    Status s;
    try {
      s = engine_->AddRequest(std::move(p.request));
      if (s.ok()) callbacks_[id] = std::move(p.callback);
    } catch (const std::exception& e) {
      // E.g. out of memory for one huge request: that request is refused, the others go on.
      s = Internal(StrCat("the request could not be queued: ", e.what()));
      engine_->Abort(id);
    }
    p.accepted->set_value(s);
  }
  for (const std::string& id : aborts) engine_->Abort(id);
}

void EngineLoop::Deliver(std::vector<RequestOutput>& outputs) {
  for (RequestOutput& o : outputs) {
    auto it = callbacks_.find(o.request_id);
    if (it == callbacks_.end()) continue;
    const bool finished = o.finished;
    const std::string id = o.request_id;
    if (finished && !o.error.empty()) {
      // This request's processing failed in the engine (it was aborted alone): report an error.
      OutputCallback callback = std::move(it->second);
      callbacks_.erase(it);
      InvokeCallback(callback, Internal(o.error), id);
      continue;
    }
    if (InvokeCallback(it->second, std::move(o), id)) {
      if (finished) callbacks_.erase(it);
      continue;
    }
    // The consumer of this request failed: end this request alone. The abort frees its blocks;
    // its final output (next step) has no callback left and is only counted by the observer.
    OutputCallback callback = std::move(it->second);
    callbacks_.erase(it);
    if (!finished) engine_->Abort(id);
    InvokeCallback(callback, Internal(StrCat("internal error while delivering the output of request ", id)), id);
  }
}

StatusOr<std::vector<RequestOutput>> EngineLoop::GuardedStep() {
  try {
    std::function<Status()> hook;
    {
      std::lock_guard lock(mu_);
      hook = step_hook_;
    }
    if (hook) RETURN_IF_ERROR(hook());
    return engine_->Step();
  } catch (const std::exception& e) {
    return Internal(StrCat("the engine step threw: ", e.what()));
  } catch (...) {
    return Internal("the engine step threw a non-exception");
  }
}

void EngineLoop::Run() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        return stop_ || !inputs_.empty() || !aborts_.empty() || engine_->HasUnfinished();
      });
      if (stop_) break;
    }
    DrainInputs();
    if (!engine_->HasUnfinished()) continue;
    auto outputs = GuardedStep();
    if (!outputs.ok()) {
      // The model itself failed: nothing can run any more. Tell every waiting client.
      std::fprintf(stderr, "engine loop: stopped: %s\n", std::string(outputs.status().message()).c_str());
      alive_.store(false);
      {
        std::lock_guard lock(mu_);
        snapshot_.alive = false;
        snapshot_.error = outputs.status();
      }
      for (auto& [id, callback] : callbacks_) InvokeCallback(callback, outputs.status(), id);
      callbacks_.clear();
      break;
    }
    // Stats first, so that a client reading its final output then the stats sees this step.
    std::function<void(const EngineStats&, const std::vector<RequestOutput>&)> observer;
    EngineStats stats = engine_->Stats();
    {
      std::lock_guard lock(mu_);
      snapshot_.stats = stats;
      observer = observer_;
    }
    if (observer) {
      try {
        observer(stats, *outputs);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "engine loop: the step observer threw: %s\n", e.what());
      }
    }
    Deliver(*outputs);
  }
  // Shutting down (or dead): abort what is left and refuse what is queued.
  for (auto& [id, callback] : callbacks_) engine_->Abort(id);
  if (alive_.load()) {
    auto outputs = GuardedStep();  // emits the abort outputs
    if (outputs.ok()) Deliver(*outputs);
  }
  for (auto& [id, callback] : callbacks_) InvokeCallback(callback, absl::UnavailableError("the engine stopped"), id);
  callbacks_.clear();
  std::deque<Pending> inputs;
  {
    std::lock_guard lock(mu_);
    inputs.swap(inputs_);
    snapshot_.alive = false;
  }
  alive_.store(false);
  for (Pending& p : inputs) p.accepted->set_value(absl::UnavailableError("the engine is shutting down"));
}

}  // namespace pagellm
