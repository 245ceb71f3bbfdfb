// Engine: one model, its KV cache and scheduler, stepped by one thread. AddRequest / Abort / Step.
//
// Single-threaded by design: the engine loop (engine_loop.h) owns an Engine on its own thread; the
// offline API, CLI and server talk to that loop through queues.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/base/status.h"
#include "src/base/thread_pool.h"
#include "src/engine/engine_config.h"
#include "src/engine/output.h"
#include "src/kv/kv_cache_manager.h"
#include "src/kv/kv_storage.h"
#include "src/model/llama.h"
#include "src/runner/model_runner.h"
#include "src/sched/scheduler.h"
#include "src/tokenizer/tokenizer.h"

namespace pagellm {

struct EngineRequest {
  std::string request_id;
  std::vector<TokenId> prompt_token_ids;
  SamplingParams params;
  bool stream = false;  // report deltas every step (else only the final output)
  int priority = 0;
  std::string cache_salt;
};

struct EngineStats {
  int64_t num_running = 0;
  int64_t num_waiting = 0;
  KvCacheStats kv;
  int64_t num_preemptions = 0;
  int64_t prompt_tokens_total = 0;      // prompt tokens computed (prefix-cache hits excluded)
  int64_t generation_tokens_total = 0;
  int64_t steps = 0;
};

class Engine {
 public:
  // Loads the model and tokenizer named by config.model and sizes the KV cache.
  static StatusOr<std::unique_ptr<Engine>> Create(const EngineConfig& config);
  // Builds an engine around an already loaded model (tests, tools). `tokenizer` may be null: then
  // prompts must be token ids, outputs carry no text and stop strings are refused.
  static StatusOr<std::unique_ptr<Engine>> Create(const EngineConfig& config,
                                                  std::unique_ptr<LlamaModel> model,
                                                  std::unique_ptr<Tokenizer> tokenizer);
  ~Engine();

  // Validates and queues a request. Client errors come back as InvalidArgument with a message for
  // the client; a full queue as ResourceExhausted.
  Status AddRequest(EngineRequest request);
  // Aborts a request: its blocks are freed now and its final output (finish_reason "abort") comes
  // out of the next Step(). False if the id is unknown or already finished.
  bool Abort(const std::string& request_id);

  // Runs one engine step and returns the outputs it produced (deltas for streaming requests,
  // final outputs for finished ones). An error means the model failed: the engine is unusable.
  StatusOr<std::vector<RequestOutput>> Step();

  // Whether Step() has anything to do: requests to run, or finished ones (e.g. aborted) whose final
  // outputs are still to be reported.
  bool HasUnfinished() const { return scheduler_->HasUnfinished() || scheduler_->HasFinished(); }
  EngineStats Stats() const;
  const EngineConfig& config() const { return config_; }
  const ModelConfig& model_config() const { return model_->config(); }
  // Tests (fault injection): called for every request whose logits a step processes, before its
  // tokens are sampled; an exception it throws fails that request alone.
  void SetRequestHookForTesting(std::function<void(const std::string& request_id)> fn) {
    request_hook_ = std::move(fn);
  }
  // Profiling (bench latency --profile): see LlamaModel::SetProfile. Engine thread only, or while
  // no step runs.
  void SetForwardProfile(ForwardProfile* profile) { model_->SetProfile(profile); }
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  int64_t max_model_len() const { return scheduler_->config().max_model_len; }
  int64_t num_kv_blocks() const { return kv_storage_->num_blocks(); }

 private:
  struct SeqText;
  struct TrackedRequest;
  struct BeamFork {
    Request* req;
    Sequence* parent;
    TokenId token;
    double cum;
    std::optional<PositionLogprobs> lp;
    bool completed;        // an EOS continuation: a finished hypothesis
    bool parent_extended;  // the parent took another token in place this step
  };
  Engine() = default;
  Status Init(const EngineConfig& config, std::unique_ptr<LlamaModel> model,
              std::unique_ptr<Tokenizer> tokenizer);
  TokenId SampleEntry(const SchedulerOutput& out, size_t i, const RunnerOutput& rows);
  void CollectPromptLogprobs(const ScheduledSeq& e, const RunnerOutput& rows, int64_t first_row,
                             TrackedRequest& state);
  void AppendText(Request* req, Sequence* seq, TokenId token);
  RequestOutput MakeOutput(Request& req, TrackedRequest& state, bool final);
  // Beam search (engine_beam_search.cc).
  void PlanBeamStep(const SchedulerOutput& out, size_t begin, size_t end, const RunnerOutput& rows,
                    std::vector<TokenId>& sampled, std::vector<BeamFork>& forks);
  void ApplyBeamForks(std::vector<BeamFork>& forks);
  void PruneBeams(Request* req);
  double BeamScore(const Request& req, const Sequence& seq) const;
  double Now() const;

  EngineConfig config_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<KvStorage> kv_storage_;
  std::unique_ptr<KvCacheManager> kv_manager_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ModelRunner> runner_;
  std::vector<TokenId> eos_ids_;
  absl::flat_hash_map<std::string, std::unique_ptr<TrackedRequest>> states_;
  std::vector<float> scratch_;  // one logits row being processed
  std::vector<std::pair<Request*, Sequence*>> beam_drops_;  // beams to remove after this step
  std::function<void(const std::string&)> request_hook_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  int64_t prompt_tokens_total_ = 0;
  int64_t generation_tokens_total_ = 0;
  int64_t steps_ = 0;
};

}  // namespace pagellm
