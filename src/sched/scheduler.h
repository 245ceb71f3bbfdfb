// Scheduler: iteration-level (continuous) batching under one token budget, as in vLLM V1.
//
// Each Schedule() walks the running requests first (decodes and unfinished prefill chunks), then
// admits waiting requests while budget, max_num_seqs and KV room allow. When the KV cache is out
// of blocks, the lowest-priority running request (the last one) is preempted: its blocks are freed
// and it goes back to the waiting queue to be recomputed later (same output: the KV is a pure
// function of the tokens).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/base/status.h"
#include "src/kv/kv_cache_manager.h"
#include "src/sched/request.h"
#include "src/sched/scheduler_output.h"

namespace pagellm {

struct SchedulerConfig {
  int64_t max_num_batched_tokens = 2048;  // token budget of one step
  int64_t max_num_seqs = 256;             // running sequences at most
  int64_t max_model_len = 2048;           // prompt + output tokens of one sequence at most
  int64_t max_num_waiting = 4096;         // bound of the waiting queue (AddRequest refuses beyond)
  int64_t long_prefill_token_threshold = 0;  // > 0: at most this many prompt tokens per step/seq
  bool enable_chunked_prefill = true;     // false: a prompt is admitted only if it fits whole
  bool priority_policy = false;           // false: FCFS; true: lower Request::priority first
  uint64_t seed = 0;                      // seeds of unseeded requests come from this (0: random)
};

class Scheduler {
 public:
  static constexpr TokenId kDeferSample = -1;
  static constexpr TokenId kNoSample = -2;

  Scheduler(const SchedulerConfig& config, KvCacheManager* kv, std::vector<TokenId> eos_ids);

  // Validates that the request can ever run (prompt fits the model context and the whole cache)
  // and queues it. Assigns sequence ids and seeds. Errors are client errors (InvalidArgument) or
  // back-pressure (ResourceExhausted when the waiting queue is full).
  Status AddRequest(std::unique_ptr<Request> request);

  SchedulerOutput Schedule();

  // Applies a step's results: `sampled[i]` is the new token of entries[i] when entries[i].sample.
  // Finishes sequences on EOS / stop token ids / max_tokens / max_model_len and frees their blocks.
  // kDeferSample: the entry's last token is recomputed next step instead (beam search waits for
  // all its beams); kNoSample: nothing is appended (the caller handles the sequence itself).
  void Update(const SchedulerOutput& output, std::span<const TokenId> sampled);

  // Ends one sequence (e.g. a stop string matched) and frees its blocks.
  void FinishSequence(Request* request, Sequence* seq, FinishReason reason);
  // A new sequence sharing `parent`'s blocks (beam search). Precondition: parent not finished.
  Sequence* ForkSequence(Request* request, const Sequence& parent);
  // Removes a sequence entirely (beam search drops beams that were not extended); finishes the
  // request if every remaining sequence is finished. Precondition: req keeps at least one.
  void DropSequence(Request* request, Sequence* seq);

  // Aborts a request wherever it is; its blocks are freed now. False if unknown or finished.
  bool Abort(const std::string& request_id);

  // Requests that finished since the last call (ownership passes to the caller).
  std::vector<std::unique_ptr<Request>> TakeFinished();

  Request* Find(const std::string& request_id);
  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  int64_t num_preemptions() const { return num_preemptions_; }
  bool HasUnfinished() const { return !waiting_.empty() || !running_.empty(); }
  // Finished requests not yet handed out by TakeFinished (e.g. just aborted).
  bool HasFinished() const { return !finished_.empty(); }
  const SchedulerConfig& config() const { return config_; }
  const KvCacheManager& kv() const { return *kv_; }

 private:
  enum class RunResult { kScheduled, kPreemptedSelf };

  struct WaitingKey {
    int priority;
    uint64_t arrival;
    Request* request;
    bool operator<(const WaitingKey& o) const {
      return priority != o.priority ? priority < o.priority : arrival < o.arrival;
    }
  };

  RunResult ScheduleRunning(Request* req, int64_t* budget, SchedulerOutput* out);
  bool AdmitWaiting(Request* req, int64_t* budget, SchedulerOutput* out);
  // Tokens to compute for `seq` this step (0 if none or no budget).
  int64_t TokensToSchedule(const Request& req, const Sequence& seq, int64_t budget) const;
  void AddEntry(Request* req, Sequence* seq, int64_t num_new, SchedulerOutput* out);
  void ForkForParallelSampling(Request* req, int parent_entry, SchedulerOutput* out);
  void Preempt(Request* victim, SchedulerOutput* out);
  void InsertRunning(Request* req);
  void RemoveRunning(Request* req);
  void MaybeFinishRequest(Request* req);
  int64_t RunningSeqs() const;
  std::unique_ptr<Sequence> NewSequence(const Request& req, int index);

  SchedulerConfig config_;
  KvCacheManager* kv_;
  std::vector<TokenId> eos_ids_;
  absl::flat_hash_map<std::string, std::unique_ptr<Request>> requests_;
  std::set<WaitingKey> waiting_;
  std::vector<Request*> running_;  // sorted: FCFS by arrival, or by (priority, arrival)
  std::vector<std::unique_ptr<Request>> finished_;
  uint64_t next_arrival_ = 0;
  SeqId next_seq_id_ = 0;
  int64_t num_preemptions_ = 0;
  std::mt19937_64 seed_source_;
};

}  // namespace pagellm
