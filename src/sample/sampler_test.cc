// Tests for the sampler and SamplingParams validation.
#include "src/sample/sampler.h"

#include <cmath>
#include <map>

#include "gtest/gtest.h"

namespace pagellm {
namespace {

std::vector<float> Logits(std::initializer_list<float> v) { return std::vector<float>(v); }

TokenId Draw(std::vector<float> logits, const SamplingParams& p, SamplerRng& rng,
             const SampleInput& in = {}) {
  return Sampler::Sample(logits, p, in, rng);
}

TEST(SamplerTest, GreedyPicksArgmaxAndLowestIndexOnTies) {
  SamplingParams p;
  p.temperature = 0;
  SamplerRng rng(1);
  EXPECT_EQ(Draw(Logits({0.1f, 3.0f, -1.0f, 3.0f}), p, rng), 1);
  EXPECT_EQ(Draw(Logits({-5.0f, -4.0f, -6.0f}), p, rng), 1);
}

TEST(SamplerTest, SamplingFollowsTheSoftmaxDistribution) {
  SamplingParams p;
  p.temperature = 1.0f;
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplerRng rng(42);
  std::map<TokenId, int> counts;
  const int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) ++counts[Draw(logits, p, rng)];
  EXPECT_NEAR(counts[0] / double(kDraws), 0.5, 0.02);
  EXPECT_NEAR(counts[1] / double(kDraws), 0.3, 0.02);
  EXPECT_NEAR(counts[2] / double(kDraws), 0.2, 0.02);
}

TEST(SamplerTest, TemperatureSharpensTheDistribution) {
  SamplingParams p;
  p.temperature = 0.5f;  // p^2 renormalized: 0.25/0.34, 0.09/0.34
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplerRng rng(7);
  int zeros = 0;
  const int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) zeros += Draw(logits, p, rng) == 0;
  EXPECT_NEAR(zeros / double(kDraws), 0.25 / 0.38, 0.02);
}

TEST(SamplerTest, TopKTopPAndMinPRestrictTheCandidates) {
  const std::vector<float> logits = {std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)};
  SamplerRng rng(3);
  SamplingParams k1;
  k1.top_k = 1;
  SamplingParams k2;
  k2.top_k = 2;
  SamplingParams p05;
  p05.top_p = 0.5f;  // needs 0.4 + 0.3 to reach 0.5
  SamplingParams minp;
  minp.min_p = 0.6f;  // keeps p >= 0.24: tokens 0 and 1
  for (int i = 0; i < 2000; ++i) {
    EXPECT_EQ(Draw(logits, k1, rng), 0);
    EXPECT_LT(Draw(logits, k2, rng), 2);
    EXPECT_LT(Draw(logits, p05, rng), 2);
    EXPECT_LT(Draw(logits, minp, rng), 2);
  }
  SamplingParams tiny_p;
  tiny_p.top_p = 0.01f;  // always keeps at least the top token
  EXPECT_EQ(Draw(logits, tiny_p, rng), 0);
}

TEST(SamplerTest, SameSeedSameSamples) {
  SamplingParams p;
  p.temperature = 1.3f;
  p.top_p = 0.9f;
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = std::sin(i * 0.7f) * 3;
  SamplerRng a(1234), b(1234), c(999);
  std::vector<TokenId> sa, sb, sc;
  for (int i = 0; i < 50; ++i) {
    sa.push_back(Draw(logits, p, a));
    sb.push_back(Draw(logits, p, b));
    sc.push_back(Draw(logits, p, c));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(SamplerTest, PenaltiesAndBiasFollowVllmSemantics) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  p.logit_bias = {{4, 10.0f}};
  std::vector<float> logits = {2.0f, -2.0f, 2.0f, 1.0f, 0.0f};
  const std::vector<TokenId> prompt = {0};
  const std::vector<TokenId> output = {1, 1, 3};
  Sampler::ApplyLogitsProcessors(logits, p, {prompt, output, {}});
  EXPECT_FLOAT_EQ(logits[0], 1.0f);                       // prompt token: 2 / 2
  EXPECT_FLOAT_EQ(logits[1], -4.0f - 2 * 0.25f - 0.5f);   // -2 * 2, then twice seen
  EXPECT_FLOAT_EQ(logits[2], 2.0f);                       // untouched
  EXPECT_FLOAT_EQ(logits[3], 0.5f - 0.25f - 0.5f);        // 1 / 2, once seen
  EXPECT_FLOAT_EQ(logits[4], 10.0f);                      // bias only
}

TEST(SamplerTest, MinTokensSuppressesEosAndStopTokens) {
  SamplingParams p;
  p.temperature = 0;
  p.min_tokens = 2;
  p.stop_token_ids = {1};
  const std::vector<TokenId> eos = {2};
  const std::vector<float> logits = {0.0f, 5.0f, 9.0f, 1.0f};
  SamplerRng rng(0);
  const std::vector<TokenId> one = {3};
  EXPECT_EQ(Draw(logits, p, rng, {{}, one, eos}), 3);
  const std::vector<TokenId> two = {3, 3};
  EXPECT_EQ(Draw(logits, p, rng, {{}, two, eos}), 2);
  p.ignore_eos = true;  // then EOS is not suppressed by min_tokens (it is simply not a stop)
  EXPECT_EQ(Draw(logits, p, rng, {{}, one, eos}), 2);
}

TEST(SamplerTest, LogprobsAreThoseOfTheRawDistribution) {
  SamplingParams p;
  p.temperature = 0;
  p.logprobs = 2;
  p.logit_bias = {{2, 100.0f}};  // changes the choice but not the reported logprobs
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplerRng rng(0);
  std::optional<PositionLogprobs> lp;
  const TokenId t = Sampler::Sample(logits, p, {}, rng, &lp);
  EXPECT_EQ(t, 2);
  ASSERT_TRUE(lp.has_value());
  EXPECT_EQ(lp->chosen.token, 2);
  EXPECT_NEAR(lp->chosen.logprob, std::log(0.2), 1e-6);
  EXPECT_EQ(lp->chosen.rank, 3);
  ASSERT_EQ(lp->top.size(), 2u);
  EXPECT_EQ(lp->top[0].token, 0);
  EXPECT_NEAR(lp->top[0].logprob, std::log(0.5), 1e-6);
  EXPECT_EQ(lp->top[1].token, 1);
}

TEST(SamplingParamsTest, ValidationNamesTheParameter) {
  struct Case {
    std::function<void(SamplingParams&)> set;
    std::string param;
  };
  const std::vector<Case> cases = {
      {[](auto& p) { p.temperature = -0.1f; }, "temperature"},
      {[](auto& p) { p.temperature = NAN; }, "temperature"},
      {[](auto& p) { p.top_p = 0.0f; }, "top_p"},
      {[](auto& p) { p.top_p = 1.5f; }, "top_p"},
      {[](auto& p) { p.top_k = -2; }, "top_k"},
      {[](auto& p) { p.min_p = 2.0f; }, "min_p"},
      {[](auto& p) { p.n = 0; }, "n"},
      {[](auto& p) { p.n = 1000000; }, "n"},
      {[](auto& p) { p.n = 3, p.best_of = 2; }, "best_of"},
      {[](auto& p) { p.presence_penalty = 3; }, "presence_penalty"},
      {[](auto& p) { p.frequency_penalty = -3; }, "frequency_penalty"},
      {[](auto& p) { p.repetition_penalty = 0; }, "repetition_penalty"},
      {[](auto& p) { p.logit_bias = {{5000, 1.0f}}; }, "logit_bias"},
      {[](auto& p) { p.logit_bias = {{1, 101.0f}}; }, "logit_bias"},
      {[](auto& p) { p.max_tokens = 0; }, "max_tokens"},
      {[](auto& p) { p.min_tokens = 20; }, "min_tokens"},
      {[](auto& p) { p.stop = std::vector<std::string>(100000, "x"); }, "stop"},
      {[](auto& p) { p.stop = {""}; }, "stop"},
      {[](auto& p) { p.stop_token_ids = {-1}; }, "stop_token_ids"},
      {[](auto& p) { p.logprobs = 1000; }, "logprobs"},
      {[](auto& p) { p.prompt_logprobs = -1; }, "prompt_logprobs"},
      {[](auto& p) { p.use_beam_search = true, p.temperature = 0, p.n = 100; }, "best_of"},
  };
  for (const auto& c : cases) {
    SamplingParams p;
    c.set(p);
    const Status s = p.Validate(/*vocab_size=*/512);
    ASSERT_FALSE(s.ok()) << c.param;
    EXPECT_EQ(s.message().substr(0, c.param.size() + 1), c.param + " ") << s.message();
  }
  EXPECT_TRUE(SamplingParams().Validate(512).ok());
}

}  // namespace
}  // namespace pagellm
