// EngineLoop: the engine thread (drain inputs, step, route outputs) and the caller-side API.
#include "src/engine/engine_loop.h"

#include "src/base/check.h"

namespace pagellm {

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
    Status s = engine_->AddRequest(std::move(p.request));
    if (s.ok()) callbacks_[id] = std::move(p.callback);
    p.accepted->set_value(s);
  }
  for (const std::string& id : aborts) engine_->Abort(id);
}

void EngineLoop::Deliver(std::vector<RequestOutput>& outputs) {
  for (RequestOutput& o : outputs) {
    auto it = callbacks_.find(o.request_id);
    if (it == callbacks_.end()) continue;
    const bool finished = o.finished;
    it->second(std::move(o));
    if (finished) callbacks_.erase(it);
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
    auto outputs = engine_->Step();
    if (!outputs.ok()) {
      // The model itself failed: nothing can run any more. Tell every waiting client.
      alive_.store(false);
      {
        std::lock_guard lock(mu_);
        snapshot_.alive = false;
        snapshot_.error = outputs.status();
      }
      for (auto& [id, callback] : callbacks_) callback(outputs.status());
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
    if (observer) observer(stats, *outputs);
    Deliver(*outputs);
  }
  // Shutting down (or dead): abort what is left and refuse what is queued.
  for (auto& [id, callback] : callbacks_) engine_->Abort(id);
  if (alive_.load()) {
    auto outputs = engine_->Step();  // emits the abort outputs
    if (outputs.ok()) Deliver(*outputs);
  }
  for (auto& [id, callback] : callbacks_) callback(absl::UnavailableError("the engine stopped"));
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
