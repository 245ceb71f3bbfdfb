// Engine beam search: all live beams of a request step together; the best `width` continuations
// (by cumulative logprob, from each beam's top 2*width tokens) survive, sharing KV blocks through
// Fork; EOS continuations become finished hypotheses. Scores follow vLLM:
// cumulative_logprob / len(prompt + output without a final EOS) ^ length_penalty.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "src/engine/engine.h"
#include "src/engine/engine_internal.h"

namespace pagellm {
namespace {

bool IsEos(TokenId t, std::span<const TokenId> eos) {
  return std::find(eos.begin(), eos.end(), t) != eos.end();
}

}  // namespace

double Engine::BeamScore(const Request& req, const Sequence& seq) const {
  int64_t len = seq.num_tokens();
  if (seq.num_output_tokens() > 0 && IsEos(seq.tokens.back(), eos_ids_)) --len;
  return seq.cumulative_logprob / std::pow(static_cast<double>(std::max<int64_t>(len, 1)),
                                           req.params.length_penalty);
}

void Engine::PlanBeamStep(const SchedulerOutput& out, size_t begin, size_t end,
                          const RunnerOutput& rows, std::vector<TokenId>& sampled,
                          std::vector<BeamFork>& forks) {
  Request* req = out.entries[begin].request;
  const SamplingParams& p = req->params;
  const int width = p.num_generated();
  int64_t live = 0;
  for (const auto& s : req->seqs) live += !s->finished();
  int64_t sampling = 0;
  for (size_t i = begin; i < end; ++i) sampling += out.entries[i].sample;
  if (sampling != live) {
    // Some beams are still recomputing (after a preemption): wait until all can step together.
    for (size_t i = begin; i < end; ++i) {
      if (out.entries[i].sample) sampled[i] = Scheduler::kDeferSample;
    }
    return;
  }
  struct Candidate {
    double cum;
    size_t entry;
    TokenId token;
    float logprob;
  };
  std::vector<Candidate> live_cands, eos_cands;
  const size_t per_beam = static_cast<size_t>(2 * width);
  std::vector<TokenId> idx;
  for (size_t i = begin; i < end; ++i) {
    const ScheduledSeq& e = out.entries[i];
    if (!e.sample) continue;
    const auto row = rows.Row(rows.first_row[i] + rows.num_rows[i] - 1);
    float max = -INFINITY;
    for (float x : row) max = std::max(max, x);
    double sum = 0;
    for (float x : row) sum += std::exp(static_cast<double>(x) - max);
    const double lse = max + std::log(sum);
    idx.resize(row.size());
    std::iota(idx.begin(), idx.end(), 0);
    const size_t k = std::min(per_beam, row.size());
    std::partial_sort(idx.begin(), idx.begin() + static_cast<ptrdiff_t>(k), idx.end(),
                      [&](TokenId a, TokenId b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    const bool eos_allowed = !p.ignore_eos && e.seq->num_output_tokens() + 1 >= p.min_tokens;
    for (size_t j = 0; j < k; ++j) {
      const float lp = static_cast<float>(row[idx[j]] - lse);
      Candidate c{e.seq->cumulative_logprob + lp, i, idx[j], lp};
      (eos_allowed && IsEos(idx[j], eos_ids_) ? eos_cands : live_cands).push_back(c);
    }
  }
  std::stable_sort(live_cands.begin(), live_cands.end(), [](const Candidate& a, const Candidate& b) {
    return a.cum > b.cum || (a.cum == b.cum && (a.entry < b.entry || (a.entry == b.entry && a.token < b.token)));
  });
  if (live_cands.size() > static_cast<size_t>(width)) live_cands.resize(static_cast<size_t>(width));

  auto position_logprobs = [&](size_t entry, TokenId token) -> std::optional<PositionLogprobs> {
    if (!p.logprobs) return std::nullopt;
    return Sampler::ComputeLogprobs(rows.Row(rows.first_row[entry] + rows.num_rows[entry] - 1), token,
                                    *p.logprobs);
  };
  std::vector<uint8_t> extended(end - begin, 0);
  for (const Candidate& c : live_cands) {
    Sequence* seq = out.entries[c.entry].seq;
    if (!extended[c.entry - begin]) {
      extended[c.entry - begin] = 1;
      sampled[c.entry] = c.token;
      seq->cumulative_logprob = c.cum;
      if (auto lp = position_logprobs(c.entry, c.token)) seq->logprobs.push_back(std::move(*lp));
    } else {
      forks.push_back({req, seq, c.token, c.cum, position_logprobs(c.entry, c.token), false, true});
    }
  }
  for (const Candidate& c : eos_cands) {
    forks.push_back({req, out.entries[c.entry].seq, c.token, c.cum, position_logprobs(c.entry, c.token),
                     true, extended[c.entry - begin] != 0});
  }
  for (size_t i = begin; i < end; ++i) {
    if (out.entries[i].sample && !extended[i - begin]) {
      sampled[i] = Scheduler::kNoSample;
      beam_drops_.push_back({req, out.entries[i].seq});
    }
  }
}

void Engine::ApplyBeamForks(std::vector<BeamFork>& forks) {
  // Parents that were extended this step already hold their new token: the child replaces it.
  for (BeamFork& f : forks) {
    Sequence* child = scheduler_->ForkSequence(f.req, *f.parent);
    TrackedRequest& state = *states_.at(f.req->request_id);
    if (f.parent_extended) {
      child->tokens.back() = f.token;
      if (f.lp) {
        if (!child->logprobs.empty()) child->logprobs.pop_back();
      }
    } else {
      child->tokens.push_back(f.token);
    }
    child->cumulative_logprob = f.cum;
    if (f.lp) child->logprobs.push_back(std::move(*f.lp));
    // Text: the parent's state before this step's token, then the child's own token.
    // Forks run before the parents' own tokens reach their text, so the parent's text is the
    // child's starting point.
    auto parent_text = state.texts.find(f.parent->id);
    if (parent_text != state.texts.end()) {
      SeqText copy = parent_text->second;
      state.texts[child->id] = std::move(copy);
    }
    AppendText(f.req, child, f.token);
    if (f.completed) {
      scheduler_->FinishSequence(f.req, child, FinishReason::kStop);
    } else if (child->num_output_tokens() >= f.req->params.max_tokens ||
               child->num_tokens() >= scheduler_->config().max_model_len) {
      scheduler_->FinishSequence(f.req, child, FinishReason::kLength);
    }
  }
}

void Engine::PruneBeams(Request* req) {
  const int width = req->params.num_generated();
  TrackedRequest& state = *states_.at(req->request_id);
  std::vector<Sequence*> done, live;
  for (auto& s : req->seqs) (s->finished() ? done : live).push_back(s.get());
  std::stable_sort(done.begin(), done.end(),
                   [&](Sequence* a, Sequence* b) { return BeamScore(*req, *a) > BeamScore(*req, *b); });
  auto drop = [&](Sequence* s) {
    state.texts.erase(s->id);
    scheduler_->DropSequence(req, s);
  };
  while (done.size() > static_cast<size_t>(width)) {
    drop(done.back());
    done.pop_back();
  }
  if (done.size() < static_cast<size_t>(width) || live.empty()) return;
  // Exact pruning: a live beam's score can at best reach cum / L^lp at the length L that favours
  // it most (cum only falls as it grows). Beams that cannot beat the worst finished one go.
  const double worst = BeamScore(*req, *done.back());
  const double lp = req->params.length_penalty;
  const double max_len = static_cast<double>(
      std::min<int64_t>(req->prompt.size() + req->params.max_tokens, scheduler_->config().max_model_len));
  for (Sequence* s : live) {
    const double len = lp >= 0 ? max_len : static_cast<double>(s->num_tokens());
    if (s->cumulative_logprob / std::pow(len, lp) <= worst) drop(s);
  }
}

}  // namespace pagellm
