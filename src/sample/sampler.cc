// Sampler: logits processors (penalties, bias), temperature, min_p / top_k / top_p, draw.
#include "src/sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/container/flat_hash_map.h"

namespace pagellm {
namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

double LogSumExp(std::span<const float> logits) {
  float max = kNegInf;
  for (float x : logits) max = std::max(max, x);
  if (max == kNegInf) return kNegInf;
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max);
  return max + std::log(sum);
}
}  // namespace

TokenId Sampler::Argmax(std::span<const float> logits) {
  TokenId best = 0;
  float best_v = kNegInf;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > best_v) {  // strict: the lowest index wins ties; NaN never wins
      best_v = logits[i];
      best = static_cast<TokenId>(i);
    }
  }
  return best;
}

void Sampler::ApplyLogitsProcessors(std::span<float> logits, const SamplingParams& params,
                                    const SampleInput& input) {
  const int64_t vocab = static_cast<int64_t>(logits.size());
  if (static_cast<int64_t>(input.output.size()) < params.min_tokens) {
    if (!params.ignore_eos) {
      for (TokenId t : input.eos_ids) {
        if (t >= 0 && t < vocab) logits[t] = kNegInf;
      }
    }
    for (TokenId t : params.stop_token_ids) {
      if (t >= 0 && t < vocab) logits[t] = kNegInf;
    }
  }
  for (const auto& [t, bias] : params.logit_bias) {
    if (t >= 0 && t < vocab) logits[t] += bias;
  }
  const bool presence_or_frequency =
      params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f;
  if (params.repetition_penalty != 1.0f) {
    // vLLM semantics: tokens seen in the prompt or the output are penalized once each.
    std::vector<uint8_t> seen(static_cast<size_t>(vocab), 0);
    for (TokenId t : input.prompt) {
      if (t >= 0 && t < vocab) seen[t] = 1;
    }
    for (TokenId t : input.output) {
      if (t >= 0 && t < vocab) seen[t] = 1;
    }
    for (int64_t t = 0; t < vocab; ++t) {
      if (!seen[t]) continue;
      logits[t] = logits[t] > 0 ? logits[t] / params.repetition_penalty
                                : logits[t] * params.repetition_penalty;
    }
  }
  if (presence_or_frequency) {
    absl::flat_hash_map<TokenId, int> counts;
    for (TokenId t : input.output) {
      if (t >= 0 && t < vocab) ++counts[t];
    }
    for (const auto& [t, c] : counts) {
      logits[t] -= params.frequency_penalty * static_cast<float>(c) + params.presence_penalty;
    }
  }
}

PositionLogprobs Sampler::ComputeLogprobs(std::span<const float> logits, TokenId token, int top_k) {
  const double lse = LogSumExp(logits);
  PositionLogprobs out;
  const float chosen = logits[token];
  int64_t rank = 1;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > chosen || (logits[i] == chosen && static_cast<TokenId>(i) < token)) ++rank;
  }
  out.chosen = {token, static_cast<float>(chosen - lse), rank};
  if (top_k > 0) {
    const size_t k = std::min<size_t>(static_cast<size_t>(top_k), logits.size());
    std::vector<TokenId> idx(logits.size());
    std::iota(idx.begin(), idx.end(), 0);
    auto better = [&](TokenId a, TokenId b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    };
    std::partial_sort(idx.begin(), idx.begin() + static_cast<ptrdiff_t>(k), idx.end(), better);
    for (size_t i = 0; i < k; ++i) {
      out.top.push_back({idx[i], static_cast<float>(logits[idx[i]] - lse), static_cast<int64_t>(i + 1)});
    }
  }
  return out;
}

TokenId Sampler::Sample(std::span<float> logits, const SamplingParams& params,
                        const SampleInput& input, SamplerRng& rng,
                        std::optional<PositionLogprobs>* logprobs) {
  std::optional<PositionLogprobs> raw;
  std::vector<float> raw_logits;
  if (logprobs != nullptr && params.logprobs.has_value()) {
    raw_logits.assign(logits.begin(), logits.end());
  }
  ApplyLogitsProcessors(logits, params, input);

  TokenId token;
  if (params.greedy()) {
    token = Argmax(logits);
  } else {
    // Candidates (token, probability) after temperature, filtered by min_p, top_k and top_p.
    const float inv_t = 1.0f / params.temperature;
    float max = kNegInf;
    for (float x : logits) max = std::max(max, x);
    std::vector<std::pair<float, TokenId>> cand;
    cand.reserve(logits.size());
    double total = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
      const float p = std::exp((logits[i] - max) * inv_t);
      if (p > 0.0f) {
        cand.emplace_back(p, static_cast<TokenId>(i));
        total += p;
      }
    }
    if (cand.empty()) {  // every logit was -inf: fall back to the argmax of what is left
      token = Argmax(logits);
    } else {
      auto by_prob = [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      };
      if (params.min_p > 0.0f) {
        const float threshold = params.min_p;  // relative to the top probability (which is 1 here)
        std::erase_if(cand, [&](const auto& c) { return c.first < threshold; });
      }
      const int top_k = params.top_k > 0 ? params.top_k : 0;
      if (top_k > 0 && static_cast<size_t>(top_k) < cand.size()) {
        std::nth_element(cand.begin(), cand.begin() + top_k - 1, cand.end(), by_prob);
        cand.resize(static_cast<size_t>(top_k));
      }
      if (params.top_p < 1.0f) {
        std::sort(cand.begin(), cand.end(), by_prob);
        double kept_total = 0;
        for (const auto& c : cand) kept_total += c.first;
        double cum = 0;
        size_t keep = 0;
        while (keep < cand.size()) {
          cum += cand[keep].first;
          ++keep;
          if (cum >= params.top_p * kept_total) break;
        }
        cand.resize(keep);
      } else if (top_k > 0 || params.min_p > 0.0f) {
        std::sort(cand.begin(), cand.end(), by_prob);
      }
      total = 0;
      for (const auto& c : cand) total += c.first;
      const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng) * total;
      double cum = 0;
      token = cand.back().second;
      for (const auto& c : cand) {
        cum += c.first;
        if (u < cum) {
          token = c.second;
          break;
        }
      }
    }
  }
  if (logprobs != nullptr && params.logprobs.has_value()) {
    *logprobs = ComputeLogprobs(raw_logits, token, *params.logprobs);
  }
  return token;
}

}  // namespace pagellm
