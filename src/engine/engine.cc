// Engine: request validation, the step (schedule -> run -> sample -> update -> detokenize), outputs.
#include "src/engine/engine.h"
#include "src/engine/engine_internal.h"

#include <algorithm>
#include <cmath>

#include "src/base/check.h"
#include "src/sample/stop_strings.h"

namespace pagellm {

Engine::~Engine() = default;

double Engine::Now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineConfig& config,
                                                 std::unique_ptr<LlamaModel> model,
                                                 std::unique_ptr<Tokenizer> tokenizer) {
  std::unique_ptr<Engine> engine(new Engine());
  RETURN_IF_ERROR(engine->Init(config, std::move(model), std::move(tokenizer)));
  return engine;
}

Status Engine::Init(const EngineConfig& config, std::unique_ptr<LlamaModel> model,
                    std::unique_ptr<Tokenizer> tokenizer) {
  config_ = config;
  model_ = std::move(model);
  tokenizer_ = std::move(tokenizer);
  const ModelConfig& mc = model_->config();
  pool_ = std::make_unique<ThreadPool>(config.threads > 0 ? config.threads : ThreadPool::AvailableCores());

  int64_t max_model_len = config.max_model_len > 0 ? config.max_model_len : mc.max_position_embeddings;
  if (max_model_len <= 0) return InvalidArgument("the model does not say its context length; pass --max-model-len");
  if (config.block_size <= 0) return InvalidArgument("--block-size must be positive");

  KvCacheSpec spec;
  spec.num_layers = mc.num_layers;
  spec.num_kv_heads = mc.num_kv_heads;
  spec.head_dim = mc.head_dim;
  spec.block_size = config.block_size;
  if (config.num_blocks > 0) {
    spec.num_blocks = config.num_blocks;
  } else {
    const int64_t by_memory = KvStorage::BlocksForBytes(spec, config.kv_cache_memory_bytes);
    // Never more than every running sequence at full length could use.
    const int64_t useful = config.max_num_seqs * ((max_model_len + spec.block_size - 1) / spec.block_size);
    spec.num_blocks = std::min(by_memory, useful);
  }
  if (spec.num_blocks <= 0) {
    return InvalidArgument(StrCat("the KV cache holds no block: ", config.kv_cache_memory_bytes,
                                  " bytes < ", spec.bytes_per_block(), " bytes per block"));
  }
  kv_storage_ = std::make_unique<KvStorage>(spec);
  kv_manager_ = std::make_unique<KvCacheManager>(KvCacheManager::Options{
      .num_blocks = spec.num_blocks,
      .block_size = spec.block_size,
      .enable_prefix_caching = config.enable_prefix_caching,
      .hash_seed = std::nullopt});

  eos_ids_ = tokenizer_ ? tokenizer_->eos_ids() : mc.eos_token_ids;
  if (eos_ids_.empty()) eos_ids_ = mc.eos_token_ids;

  SchedulerConfig sc;
  sc.max_num_batched_tokens = config.max_num_batched_tokens;
  sc.max_num_seqs = config.max_num_seqs;
  sc.max_model_len = max_model_len;
  sc.max_num_waiting = config.max_num_waiting;
  sc.enable_chunked_prefill = config.enable_chunked_prefill;
  sc.priority_policy = config.priority_scheduling;
  sc.seed = config.seed;
  if (!config.enable_chunked_prefill && sc.max_num_batched_tokens < max_model_len) {
    return InvalidArgument(StrCat("--max-num-batched-tokens (", sc.max_num_batched_tokens,
                                  ") must be at least the context length (", max_model_len,
                                  ") when chunked prefill is off"));
  }
  scheduler_ = std::make_unique<Scheduler>(sc, kv_manager_.get(), eos_ids_);
  runner_ = std::make_unique<ModelRunner>(model_.get(), kv_storage_.get(), pool_.get());
  return absl::OkStatus();
}

Status Engine::AddRequest(EngineRequest request) {
  const SamplingParams& p = request.params;
  const int64_t vocab = model_->config().vocab_size;
  RETURN_IF_ERROR(p.Validate(vocab, config_.limits));
  if (!tokenizer_ && !p.stop.empty()) {
    return InvalidArgument("stop strings need a tokenizer; this engine has none");
  }
  if (request.stream && p.use_beam_search) {
    return InvalidArgument("streaming is not supported with beam search");
  }
  if (request.stream && p.best_of && *p.best_of > p.n) {
    return InvalidArgument("best_of must equal n when streaming (the best sequences are only known at the end)");
  }
  for (TokenId t : request.prompt_token_ids) {
    if (t < 0 || t >= vocab) {
      return InvalidArgument(StrCat("prompt token id ", t, " is outside the vocabulary [0, ", vocab, ")"));
    }
  }
  if (states_.contains(request.request_id)) {
    return InvalidArgument(StrCat("request id '", request.request_id, "' is already in use"));
  }
  auto req = std::make_unique<Request>();
  req->request_id = request.request_id;
  req->priority = request.priority;
  req->params = p;
  req->cache_salt = request.cache_salt;
  req->prompt = request.prompt_token_ids;
  if (p.prompt_logprobs) req->cache_salt += "\x01prompt-logprobs";  // every prompt row is needed
  auto state = std::make_unique<TrackedRequest>();
  state->hold_back = StopHoldBack(p.stop, p.include_stop_str_in_output);
  state->need_logprob_sum = p.best_of.has_value() && *p.best_of > p.n;
  state->metrics.arrival_time = Now();
  state->metrics.num_prompt_tokens = static_cast<int64_t>(request.prompt_token_ids.size());
  if (p.prompt_logprobs) state->prompt_logprobs.resize(request.prompt_token_ids.size());
  state->request = std::move(request);
  RETURN_IF_ERROR(scheduler_->AddRequest(std::move(req)));
  states_.emplace(state->request.request_id, std::move(state));
  return absl::OkStatus();
}

bool Engine::Abort(const std::string& request_id) { return scheduler_->Abort(request_id); }

TokenId Engine::SampleEntry(const SchedulerOutput& out, size_t i, const RunnerOutput& rows) {
  const ScheduledSeq& e = out.entries[i];
  const int64_t row = rows.first_row[i] + rows.num_rows[i] - 1;
  const auto logits = rows.Row(row);
  scratch_.assign(logits.begin(), logits.end());
  Sequence* seq = e.seq;
  TrackedRequest& state = *states_.at(e.request->request_id);
  const SamplingParams& p = e.request->params;
  std::optional<PositionLogprobs> lp;
  const bool want_logprobs = p.logprobs.has_value();
  SamplingParams local;  // logprobs are needed for ranking even when not reported
  const SamplingParams* params = &p;
  if (!want_logprobs && state.need_logprob_sum) {
    local = p;
    local.logprobs = 0;
    params = &local;
  }
  const TokenId token = Sampler::Sample(scratch_, *params, {seq->prompt(), seq->output(), eos_ids_},
                                        seq->rng, &lp);
  if (lp) {
    seq->cumulative_logprob += lp->chosen.logprob;
    if (want_logprobs) seq->logprobs.push_back(std::move(*lp));
  }
  return token;
}

void Engine::CollectPromptLogprobs(const ScheduledSeq& e, const RunnerOutput& rows, int64_t first_row,
                                   TrackedRequest& state) {
  const int k = *e.request->params.prompt_logprobs;
  const int64_t num_prompt = e.seq->num_prompt_tokens;
  for (int64_t j = 0; j < e.num_tokens; ++j) {
    const int64_t pos = e.start + j;  // row of position pos predicts token pos + 1
    if (pos + 1 >= num_prompt || pos + 1 <= state.prompt_logprobs_done) continue;
    state.prompt_logprobs[pos + 1] =
        Sampler::ComputeLogprobs(rows.Row(first_row + j), e.seq->tokens[pos + 1], k);
    state.prompt_logprobs_done = pos + 1;
  }
}

void Engine::AppendText(Request* req, Sequence* seq, TokenId token) {
  if (!tokenizer_) return;
  TrackedRequest& state = *states_.at(req->request_id);
  SeqText& st = state.texts[seq->id];
  if (!st.detok) {
    st.detok.emplace(*tokenizer_, seq->prompt(), req->params.skip_special_tokens);
  }
  const size_t before = st.text.size();
  // Sampled ids are always inside the vocabulary the sampler saw; the model's may be padded past
  // the tokenizer's, and such ids have no text.
  if (auto piece = st.detok->Next(token); piece.ok()) st.text += *piece;
  if (seq->finished()) st.text += st.detok->Flush();
  if (req->params.stop.empty() || seq->finished()) return;
  auto m = FindStopString(st.text, before, req->params.stop);
  if (!m) return;
  const std::string& stop = req->params.stop[m->stop_index];
  st.text.resize(m->pos + (req->params.include_stop_str_in_output ? stop.size() : 0));
  seq->stop_string = stop;
  scheduler_->FinishSequence(req, seq, FinishReason::kStop);
}

StatusOr<std::vector<RequestOutput>> Engine::Step() {
  ++steps_;
  SchedulerOutput out = scheduler_->Schedule();
  std::vector<RequestOutput> outputs;
  const double now = Now();
  if (!out.empty()) {
    std::vector<uint8_t> all_rows(out.entries.size(), 0);
    for (size_t i = 0; i < out.entries.size(); ++i) {
      const ScheduledSeq& e = out.entries[i];
      TrackedRequest& state = *states_.at(e.request->request_id);
      if (state.metrics.first_scheduled_time == 0) state.metrics.first_scheduled_time = now;
      all_rows[i] = e.request->params.prompt_logprobs.has_value() && e.num_tokens > 0 &&
                    e.start < e.seq->num_prompt_tokens;
      if (e.start < e.seq->num_prompt_tokens) {
        prompt_tokens_total_ += std::min(e.num_tokens, e.seq->num_prompt_tokens - e.start);
      }
    }
    ASSIGN_OR_RETURN(RunnerOutput rows, runner_->Execute(out, all_rows));

    std::vector<TokenId> sampled(out.entries.size(), Scheduler::kNoSample);
    std::vector<BeamFork> forks;
    std::vector<Request*> beam_requests;
    // Requests whose own processing threw: they are aborted alone after this step's update.
    std::vector<Request*> failed;
    auto fail = [&](Request* req, const char* what) {
      if (std::find(failed.begin(), failed.end(), req) != failed.end()) return;
      failed.push_back(req);
      states_.at(req->request_id)->error = StrCat("processing request ", req->request_id, " failed: ", what);
    };
    for (size_t i = 0; i < out.entries.size();) {
      const ScheduledSeq& e = out.entries[i];
      size_t end = i + 1;  // a request's entries are contiguous
      while (end < out.entries.size() && out.entries[end].request == e.request) ++end;
      const size_t forks_before = forks.size();
      const size_t drops_before = beam_drops_.size();
      try {
        if (request_hook_) request_hook_(e.request->request_id);
        for (size_t j = i; j < end; ++j) {
          if (all_rows[j]) {
            CollectPromptLogprobs(out.entries[j], rows, rows.first_row[j], *states_.at(e.request->request_id));
          }
        }
        if (e.request->params.use_beam_search) {
          PlanBeamStep(out, i, end, rows, sampled, forks);
          beam_requests.push_back(e.request);
        } else {
          for (size_t j = i; j < end; ++j) {
            if (out.entries[j].sample) sampled[j] = SampleEntry(out, j, rows);
          }
        }
      } catch (const std::exception& ex) {
        // Undo what this request planned so far; its sequences take no token this step.
        forks.erase(forks.begin() + static_cast<std::ptrdiff_t>(forks_before), forks.end());
        beam_drops_.erase(beam_drops_.begin() + static_cast<std::ptrdiff_t>(drops_before), beam_drops_.end());
        if (!beam_requests.empty() && beam_requests.back() == e.request) beam_requests.pop_back();
        for (size_t j = i; j < end; ++j) sampled[j] = Scheduler::kNoSample;
        fail(e.request, ex.what());
      }
      i = end;
    }
    scheduler_->Update(out, sampled);
    ApplyBeamForks(forks);
    const double t = Now();
    for (size_t i = 0; i < out.entries.size(); ++i) {
      const ScheduledSeq& e = out.entries[i];
      if (!e.sample || sampled[i] < 0) continue;
      ++generation_tokens_total_;
      TrackedRequest& state = *states_.at(e.request->request_id);
      if (state.metrics.first_token_time == 0) state.metrics.first_token_time = t;
      if (state.metrics.last_token_time > 0 && e.seq->index == 0) {
        state.metrics.inter_token_latencies.push_back(t - state.metrics.last_token_time);
      }
      if (e.seq->index == 0) state.metrics.last_token_time = t;
      ++state.metrics.num_generation_tokens;
      try {
        AppendText(e.request, e.seq, sampled[i]);
      } catch (const std::exception& ex) {
        fail(e.request, ex.what());
      }
    }
    for (auto [req, seq] : beam_drops_) {
      states_.at(req->request_id)->texts.erase(seq->id);
      scheduler_->DropSequence(req, seq);
    }
    beam_drops_.clear();
    for (Request* req : beam_requests) {
      if (req->state != RequestState::kFinished &&
          std::find(failed.begin(), failed.end(), req) == failed.end()) {
        PruneBeams(req);
      }
    }
    for (Request* req : failed) {
      if (req->state != RequestState::kFinished) scheduler_->Abort(req->request_id);
    }
    // Streaming outputs for requests that advanced and are still running.
    for (size_t i = 0; i < out.entries.size(); ++i) {
      Request* req = out.entries[i].request;
      if (req->state == RequestState::kFinished) continue;
      TrackedRequest& state = *states_.at(req->request_id);
      if (!state.request.stream || state.last_output_time == t) continue;
      state.last_output_time = t;
      RequestOutput o = MakeOutput(*req, state, /*final=*/false);
      bool any = false;
      for (const auto& c : o.outputs) any |= !c.delta_token_ids.empty() || !c.delta_text.empty();
      if (any) outputs.push_back(std::move(o));
    }
  }
  for (auto& req : scheduler_->TakeFinished()) {
    auto it = states_.find(req->request_id);
    CHECK(it != states_.end());
    it->second->metrics.finished_time = Now();
    it->second->metrics.num_preemptions = req->num_preemptions;
    it->second->metrics.num_cached_tokens = req->num_cached_prompt_tokens;
    outputs.push_back(MakeOutput(*req, *it->second, /*final=*/true));
    states_.erase(it);
  }
  return outputs;
}

RequestOutput Engine::MakeOutput(Request& req, TrackedRequest& state, bool final) {
  RequestOutput o;
  o.request_id = req.request_id;
  o.prompt_token_ids = req.prompt;
  o.finished = final;
  if (final) o.error = state.error;
  o.metrics = state.metrics;
  state.metrics.inter_token_latencies.clear();
  if (req.params.prompt_logprobs && (final || state.request.stream)) o.prompt_logprobs = state.prompt_logprobs;

  std::vector<Sequence*> seqs;
  for (auto& s : req.seqs) seqs.push_back(s.get());
  if (final && req.params.use_beam_search) {
    std::stable_sort(seqs.begin(), seqs.end(), [&](Sequence* a, Sequence* b) {
      return BeamScore(req, *a) > BeamScore(req, *b);
    });
    if (static_cast<int>(seqs.size()) > req.params.n) seqs.resize(req.params.n);
  } else if (final && static_cast<int>(seqs.size()) > req.params.n) {
    // best_of > n: the n sequences with the highest cumulative logprob.
    std::stable_sort(seqs.begin(), seqs.end(), [](Sequence* a, Sequence* b) {
      return a->cumulative_logprob > b->cumulative_logprob;
    });
    seqs.resize(req.params.n);
  }
  for (size_t k = 0; k < seqs.size(); ++k) {
    Sequence* seq = seqs[k];
    SeqText& st = state.texts[seq->id];
    CompletionOutput c;
    c.index = final ? static_cast<int>(k) : seq->index;
    c.token_ids.assign(seq->output().begin(), seq->output().end());
    c.text = st.text;
    size_t safe = st.text.size();
    if (!seq->finished()) safe = Utf8SafePrefix(st.text, st.text.size() > state.hold_back ? st.text.size() - state.hold_back : 0);
    if (safe > st.emitted_bytes) c.delta_text = st.text.substr(st.emitted_bytes, safe - st.emitted_bytes);
    st.emitted_bytes = std::max(st.emitted_bytes, safe);
    if (c.token_ids.size() > st.emitted_tokens) {
      c.delta_token_ids.assign(c.token_ids.begin() + static_cast<ptrdiff_t>(st.emitted_tokens), c.token_ids.end());
    }
    st.emitted_tokens = c.token_ids.size();
    c.logprobs = seq->logprobs;
    c.num_delta_logprobs = seq->logprobs.size() - std::min(seq->logprobs.size(), st.emitted_logprobs);
    st.emitted_logprobs = seq->logprobs.size();
    if (req.params.logprobs || state.need_logprob_sum || req.params.use_beam_search) {
      c.cumulative_logprob = seq->cumulative_logprob;
    }
    c.finish_reason = seq->finish_reason;
    c.stop_string = seq->stop_string;
    c.stop_token = seq->stop_token;
    o.outputs.push_back(std::move(c));
  }
  std::sort(o.outputs.begin(), o.outputs.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return o;
}

EngineStats Engine::Stats() const {
  EngineStats s;
  s.num_running = scheduler_->num_running();
  s.num_waiting = scheduler_->num_waiting();
  s.kv = kv_manager_->Stats();
  s.num_preemptions = scheduler_->num_preemptions();
  s.prompt_tokens_total = prompt_tokens_total_;
  s.generation_tokens_total = generation_tokens_total_;
  s.steps = steps_;
  return s;
}

}  // namespace pagellm
