// Scheduler: Schedule (running first, then admission), preemption by recompute, Update.
#include "src/sched/scheduler.h"

#include <algorithm>

#include "src/base/check.h"

namespace pagellm {

Scheduler::Scheduler(const SchedulerConfig& config, KvCacheManager* kv, std::vector<TokenId> eos_ids)
    : config_(config), kv_(kv), eos_ids_(std::move(eos_ids)), seed_source_(config.seed != 0 ? config.seed : std::random_device{}()) {
  CHECK(config.max_num_batched_tokens > 0 && config.max_num_seqs > 0 && config.max_model_len > 0);
}

std::unique_ptr<Sequence> Scheduler::NewSequence(const Request& req, int index) {
  auto seq = std::make_unique<Sequence>();
  seq->id = next_seq_id_++;
  seq->index = index;
  seq->num_prompt_tokens = static_cast<int64_t>(req.prompt.size());
  seq->tokens = req.prompt;
  // Seeded requests: child i draws from seed + i (vLLM's convention for n > 1), so a request's
  // samples never depend on the batch it runs in.
  seq->rng.seed(req.params.seed ? *req.params.seed + static_cast<uint64_t>(index) : seed_source_());
  return seq;
}

Status Scheduler::AddRequest(std::unique_ptr<Request> req) {
  const int64_t prompt_len = static_cast<int64_t>(req->prompt.size());
  if (prompt_len == 0) return InvalidArgument("The prompt is empty: at least one token is needed.");
  if (requests_.contains(req->request_id)) {
    return InvalidArgument(StrCat("A request with id '", req->request_id, "' is already running."));
  }
  if (prompt_len + req->params.max_tokens > config_.max_model_len) {
    return InvalidArgument(StrCat(
        "This model's maximum context length is ", config_.max_model_len,
        " tokens. However, you requested ", prompt_len + req->params.max_tokens, " tokens (",
        prompt_len, " in the prompt, ", req->params.max_tokens,
        " for the completion). Please reduce the length of the prompt or of max_tokens."));
  }
  // Worst case with prompt blocks shared by the sequences: it must fit the cache on its own.
  const int64_t bs = kv_->block_size();
  const int64_t width = req->params.num_generated();
  const int64_t blocks = (prompt_len + bs - 1) / bs + width * ((req->params.max_tokens + bs - 1) / bs + 1);
  const int64_t capacity = kv_->pool().num_blocks();
  if (blocks > capacity) {
    return InvalidArgument(StrCat("The request needs up to ", blocks, " KV cache blocks (",
                                  prompt_len, " prompt tokens, ", width, " x ",
                                  req->params.max_tokens, " output tokens at block size ", bs,
                                  ") but the whole cache has ", capacity,
                                  "; shorten the request or enlarge the KV cache."));
  }
  if (num_waiting() >= config_.max_num_waiting) {
    return absl::ResourceExhaustedError(ToAbsl(StrCat(
        "The server is busy: ", num_waiting(), " requests are already waiting. Retry later.")));
  }
  req->arrival = next_arrival_++;
  if (!config_.priority_policy) req->priority = 0;
  req->state = RequestState::kWaiting;
  req->seqs.clear();
  req->seqs.push_back(NewSequence(*req, 0));
  Request* raw = req.get();
  requests_.emplace(req->request_id, std::move(req));
  waiting_.insert({raw->priority, raw->arrival, raw});
  return absl::OkStatus();
}

int64_t Scheduler::TokensToSchedule(const Request& req, const Sequence& seq, int64_t budget) const {
  int64_t n = std::min(seq.num_tokens() - seq.num_computed_tokens, budget);
  const bool prefill = seq.num_tokens() - seq.num_computed_tokens > 1;
  if (prefill && config_.long_prefill_token_threshold > 0) {
    n = std::min(n, config_.long_prefill_token_threshold);
  }
  return std::max<int64_t>(0, n);
}

void Scheduler::AddEntry(Request* req, Sequence* seq, int64_t num_new, SchedulerOutput* out) {
  ScheduledSeq e;
  e.request = req;
  e.seq = seq;
  e.start = seq->num_computed_tokens;
  e.num_tokens = num_new;
  e.sample = e.start + num_new == seq->num_tokens();
  e.block_table = kv_->BlockTable(seq->id);
  out->entries.push_back(e);
  out->num_batched_tokens += num_new;
  if (e.sample && req->seqs.size() == 1 && seq->num_output_tokens() == 0 &&
      req->params.num_generated() > 1 && !req->params.use_beam_search) {
    ForkForParallelSampling(req, static_cast<int>(out->entries.size()) - 1, out);
  }
}

// The prompt's last chunk runs this step: the other n-1 sequences start now, sharing every block
// (the partly filled last one is copied when a child first writes to it) and sampling their first
// token from the parent's logits.
void Scheduler::ForkForParallelSampling(Request* req, int parent_entry, SchedulerOutput* out) {
  Sequence* parent = out->entries[parent_entry].seq;
  const int64_t computed_after = parent->num_tokens();
  for (int i = 1; i < req->params.num_generated(); ++i) {
    auto child = NewSequence(*req, i);
    child->num_computed_tokens = computed_after;
    kv_->Fork(parent->id, child->id);
    ScheduledSeq e;
    e.request = req;
    e.seq = child.get();
    e.start = computed_after;
    e.sample = true;
    e.parent_entry = parent_entry;
    e.block_table = kv_->BlockTable(child->id);
    out->entries.push_back(e);
    req->seqs.push_back(std::move(child));
  }
}

Scheduler::RunResult Scheduler::ScheduleRunning(Request* req, int64_t* budget, SchedulerOutput* out) {
  const size_t first_entry = out->entries.size();
  for (size_t i = 0; i < req->seqs.size() && *budget > 0; ++i) {
    Sequence* seq = req->seqs[i].get();
    if (seq->finished()) continue;
    const int64_t num_new = TokensToSchedule(*req, *seq, *budget);
    if (num_new == 0) continue;
    while (!kv_->AllocateSlots(seq->id, seq->tokens, seq->num_computed_tokens, num_new, nullptr,
                               req->cache_salt, &out->block_copies)) {
      Request* victim = running_.back();
      if (victim == req) {
        // Undo this request's entries of this step, then requeue it.
        for (size_t e = first_entry; e < out->entries.size(); ++e) {
          *budget += out->entries[e].num_tokens;
          out->num_batched_tokens -= out->entries[e].num_tokens;
        }
        out->entries.resize(first_entry);
        Preempt(req, out);
        return RunResult::kPreemptedSelf;
      }
      Preempt(victim, out);
    }
    AddEntry(req, seq, num_new, out);
    *budget -= num_new;
  }
  return RunResult::kScheduled;
}

bool Scheduler::AdmitWaiting(Request* req, int64_t* budget, SchedulerOutput* out) {
  bool any = false;
  for (size_t i = 0; i < req->seqs.size() && *budget > 0; ++i) {
    Sequence* seq = req->seqs[i].get();
    if (seq->finished() || seq->num_computed_tokens > 0) continue;
    CachedPrefix prefix = kv_->FindCachedPrefix(seq->tokens, req->cache_salt);
    seq->num_computed_tokens = prefix.num_tokens;
    const int64_t num_new = TokensToSchedule(*req, *seq, *budget);
    const bool whole = num_new == seq->num_tokens() - seq->num_computed_tokens;
    if (num_new == 0 || (!config_.enable_chunked_prefill && !whole) ||
        !kv_->AllocateSlots(seq->id, seq->tokens, seq->num_computed_tokens, num_new, &prefix,
                            req->cache_salt, &out->block_copies)) {
      seq->num_computed_tokens = 0;
      break;
    }
    if (req->num_preemptions == 0 && i == 0) req->num_cached_prompt_tokens = prefix.num_tokens;
    AddEntry(req, seq, num_new, out);
    *budget -= num_new;
    any = true;
  }
  return any;
}

SchedulerOutput Scheduler::Schedule() {
  SchedulerOutput out;
  int64_t budget = config_.max_num_batched_tokens;
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Request* req = running_[i];
    if (ScheduleRunning(req, &budget, &out) == RunResult::kPreemptedSelf) break;
    ++i;
  }
  // New work only when nothing had to be preempted: admitting would just preempt again.
  while (out.num_preempted == 0 && budget > 0 && !waiting_.empty()) {
    Request* req = waiting_.begin()->request;
    const int64_t seqs = static_cast<int64_t>(req->seqs.size());
    if (RunningSeqs() + seqs > config_.max_num_seqs) break;
    if (!AdmitWaiting(req, &budget, &out)) break;
    waiting_.erase(waiting_.begin());
    req->state = RequestState::kRunning;
    InsertRunning(req);
  }
  return out;
}

void Scheduler::Preempt(Request* victim, SchedulerOutput* out) {
  for (auto& seq : victim->seqs) {
    kv_->Free(seq->id);
    seq->num_computed_tokens = 0;
  }
  RemoveRunning(victim);
  victim->state = RequestState::kWaiting;
  ++victim->num_preemptions;
  ++num_preemptions_;
  ++out->num_preempted;
  waiting_.insert({victim->priority, victim->arrival, victim});
}

void Scheduler::InsertRunning(Request* req) {
  auto pos = std::upper_bound(running_.begin(), running_.end(), req, [](Request* a, Request* b) {
    return a->priority != b->priority ? a->priority < b->priority : a->arrival < b->arrival;
  });
  running_.insert(pos, req);
}

void Scheduler::RemoveRunning(Request* req) {
  auto it = std::find(running_.begin(), running_.end(), req);
  if (it != running_.end()) running_.erase(it);
}

int64_t Scheduler::RunningSeqs() const {
  int64_t n = 0;
  for (const Request* r : running_) {
    for (const auto& s : r->seqs) n += !s->finished();
  }
  return n;
}

void Scheduler::Update(const SchedulerOutput& output, std::span<const TokenId> sampled) {
  CHECK(sampled.size() == output.entries.size());
  for (size_t i = 0; i < output.entries.size(); ++i) {
    const ScheduledSeq& e = output.entries[i];
    Sequence* seq = e.seq;
    if (seq->finished()) continue;  // e.g. beam search dropped it
    seq->num_computed_tokens = e.start + e.num_tokens;
    if (!e.sample) continue;
    const TokenId token = sampled[i];
    if (token == kDeferSample) {
      // Keep the KV slot; the last token is computed again (same values) when it is rescheduled.
      seq->num_computed_tokens = seq->num_tokens() - 1;
      continue;
    }
    if (token < 0) continue;
    seq->tokens.push_back(token);
    const SamplingParams& p = e.request->params;
    const int64_t out_len = seq->num_output_tokens();
    FinishReason reason = FinishReason::kNone;
    if (out_len >= p.min_tokens) {
      if (!p.ignore_eos && std::find(eos_ids_.begin(), eos_ids_.end(), token) != eos_ids_.end()) {
        reason = FinishReason::kStop;
      } else if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), token) !=
                 p.stop_token_ids.end()) {
        reason = FinishReason::kStop;
        seq->stop_token = token;
      }
    }
    if (reason == FinishReason::kNone &&
        (out_len >= p.max_tokens || seq->num_tokens() >= config_.max_model_len)) {
      reason = FinishReason::kLength;
    }
    if (reason != FinishReason::kNone) FinishSequence(e.request, seq, reason);
  }
}

void Scheduler::FinishSequence(Request* req, Sequence* seq, FinishReason reason) {
  if (seq->finished()) return;
  seq->finish_reason = reason;
  kv_->Free(seq->id);
  MaybeFinishRequest(req);
}

void Scheduler::MaybeFinishRequest(Request* req) {
  if (!req->AllFinished() || req->state == RequestState::kFinished) return;
  if (req->state == RequestState::kRunning) RemoveRunning(req);
  if (req->state == RequestState::kWaiting) waiting_.erase({req->priority, req->arrival, req});
  req->state = RequestState::kFinished;
  auto it = requests_.find(req->request_id);
  CHECK(it != requests_.end());
  finished_.push_back(std::move(it->second));
  requests_.erase(it);
}

Sequence* Scheduler::ForkSequence(Request* req, const Sequence& parent) {
  auto child = NewSequence(*req, static_cast<int>(req->seqs.size()));
  child->tokens = parent.tokens;
  child->num_computed_tokens = parent.num_computed_tokens;
  child->cumulative_logprob = parent.cumulative_logprob;
  child->logprobs = parent.logprobs;
  // A parent that just finished (max_tokens) has no blocks left; its child finishes at once too.
  if (kv_->HasSeq(parent.id)) kv_->Fork(parent.id, child->id);
  req->seqs.push_back(std::move(child));
  return req->seqs.back().get();
}

void Scheduler::DropSequence(Request* req, Sequence* seq) {
  kv_->Free(seq->id);
  auto it = std::find_if(req->seqs.begin(), req->seqs.end(),
                         [&](const auto& s) { return s.get() == seq; });
  if (it != req->seqs.end()) req->seqs.erase(it);
  MaybeFinishRequest(req);
}

bool Scheduler::Abort(const std::string& request_id) {
  Request* req = Find(request_id);
  if (req == nullptr) return false;
  for (auto& seq : req->seqs) {
    if (!seq->finished()) {
      seq->finish_reason = FinishReason::kAbort;
      kv_->Free(seq->id);
    }
  }
  MaybeFinishRequest(req);
  return true;
}

Request* Scheduler::Find(const std::string& request_id) {
  auto it = requests_.find(request_id);
  return it == requests_.end() ? nullptr : it->second.get();
}

std::vector<std::unique_ptr<Request>> Scheduler::TakeFinished() {
  std::vector<std::unique_ptr<Request>> out;
  out.swap(finished_);
  return out;
}

}  // namespace pagellm
