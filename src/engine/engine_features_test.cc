// Engine features through the offline API on stories260K: stop strings (across token boundaries,
// trimmed, kept with include_stop_str_in_output), stop token ids, min_tokens, logprobs and prompt
// logprobs, abort through the engine loop, and request validation.
#include <cmath>

#include "gtest/gtest.h"
#include "src/engine/engine_testutil.h"
#include "src/engine/llm.h"

namespace pagellm {
namespace {

class StoriesEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string model = testing::StoriesModelPath("hf");
    if (model.empty()) GTEST_SKIP() << "../shared/models/stories260K not found";
    EngineConfig cfg;
    cfg.model = model;
    auto llm = LLM::Create(cfg);
    ASSERT_TRUE(llm.ok()) << llm.status();
    llm_ = std::move(*llm);
  }
  CompletionOutput Run(const std::string& prompt, const SamplingParams& p) {
    auto out = llm_->Generate({prompt}, {p}, {.use_progress_bar = false});
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? (*out)[0].outputs[0] : CompletionOutput{};
  }
  static SamplingParams Greedy(int max_tokens) {
    SamplingParams p;
    p.temperature = 0;
    p.max_tokens = max_tokens;
    return p;
  }
  std::unique_ptr<LLM> llm_;
};

TEST_F(StoriesEngineTest, StopStringsMatchAcrossTokensAndAreTrimmed) {
  const CompletionOutput full = Run("", Greedy(60));
  // "Once upon a time, there was a little girl named Lily. ..." (the published sample).
  const std::string stop = "ittle gi";  // starts and ends inside tokens
  const size_t at = full.text.find(stop);
  ASSERT_NE(at, std::string::npos) << full.text;
  SamplingParams p = Greedy(60);
  p.stop = {"no such text", stop};
  const CompletionOutput cut = Run("", p);
  EXPECT_EQ(cut.text, full.text.substr(0, at));
  EXPECT_EQ(cut.finish_reason, FinishReason::kStop);
  ASSERT_TRUE(cut.stop_string.has_value());
  EXPECT_EQ(*cut.stop_string, stop);
  EXPECT_LT(cut.token_ids.size(), full.token_ids.size());
  p.include_stop_str_in_output = true;
  EXPECT_EQ(Run("", p).text, full.text.substr(0, at + stop.size()));
}

TEST_F(StoriesEngineTest, StopTokenIdsAndMinTokens) {
  const CompletionOutput full = Run("", Greedy(20));
  ASSERT_GE(full.token_ids.size(), 10u);
  SamplingParams p = Greedy(20);
  p.stop_token_ids = {full.token_ids[5]};
  const CompletionOutput stopped = Run("", p);
  // The first occurrence of that token ends the sequence; the token itself is part of the ids.
  size_t first = 0;
  while (full.token_ids[first] != full.token_ids[5]) ++first;
  EXPECT_EQ(stopped.token_ids.size(), first + 1);
  EXPECT_EQ(stopped.finish_reason, FinishReason::kStop);
  EXPECT_EQ(stopped.stop_token, std::optional<TokenId>(full.token_ids[5]));
  p.min_tokens = static_cast<int>(first) + 2;  // the stop token is suppressed until then
  const CompletionOutput later = Run("", p);
  EXPECT_GE(later.token_ids.size(), first + 2);
}

TEST_F(StoriesEngineTest, LogprobsAreNormalizedAndRanked) {
  SamplingParams p = Greedy(8);
  p.logprobs = 4;
  p.prompt_logprobs = 2;
  auto out = llm_->Generate({std::string("Once upon a time")}, {p}, {.use_progress_bar = false});
  ASSERT_TRUE(out.ok());
  const RequestOutput& o = (*out)[0];
  const CompletionOutput& c = o.outputs[0];
  ASSERT_EQ(c.logprobs.size(), c.token_ids.size());
  double sum = 0;
  for (size_t i = 0; i < c.logprobs.size(); ++i) {
    const PositionLogprobs& lp = c.logprobs[i];
    EXPECT_EQ(lp.chosen.token, c.token_ids[i]);
    EXPECT_EQ(lp.chosen.rank, 1);  // greedy takes the most likely token
    ASSERT_EQ(lp.top.size(), 4u);
    EXPECT_EQ(lp.top[0].token, lp.chosen.token);
    double mass = 0;
    for (size_t k = 0; k < lp.top.size(); ++k) {
      mass += std::exp(lp.top[k].logprob);
      if (k > 0) {
        EXPECT_LE(lp.top[k].logprob, lp.top[k - 1].logprob);
      }
    }
    EXPECT_LE(mass, 1.0 + 1e-6);
    sum += lp.chosen.logprob;
  }
  ASSERT_TRUE(c.cumulative_logprob.has_value());
  EXPECT_NEAR(*c.cumulative_logprob, sum, 1e-9);
  ASSERT_EQ(o.prompt_logprobs.size(), o.prompt_token_ids.size());
  EXPECT_FALSE(o.prompt_logprobs[0].has_value());  // nothing predicts the first token
  for (size_t i = 1; i < o.prompt_logprobs.size(); ++i) {
    ASSERT_TRUE(o.prompt_logprobs[i].has_value()) << i;
    EXPECT_EQ(o.prompt_logprobs[i]->chosen.token, o.prompt_token_ids[i]);
    EXPECT_LE(o.prompt_logprobs[i]->chosen.logprob, 0.0f);
    EXPECT_EQ(o.prompt_logprobs[i]->top.size(), 2u);
  }
}

TEST_F(StoriesEngineTest, AbortEndsARunningRequestAndFreesItsBlocks) {
  EngineRequest r;
  r.request_id = "long";
  r.prompt_token_ids = {1};
  r.params.max_tokens = 500;
  r.params.ignore_eos = true;
  r.stream = true;
  auto stream = llm_->loop().Submit(r);
  ASSERT_TRUE(stream.ok());
  auto first = (*stream)->Next();
  ASSERT_TRUE(first.has_value());
  llm_->loop().Abort("long");
  std::optional<RequestOutput> last;
  while (auto o = (*stream)->Next()) last = std::move(o);
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(last->finished);
  EXPECT_EQ(last->outputs[0].finish_reason, FinishReason::kAbort);
  EXPECT_LT(last->outputs[0].token_ids.size(), 500u);
  EXPECT_EQ(llm_->loop().Snapshot().stats.kv.used_blocks, 0);
}

TEST_F(StoriesEngineTest, InvalidRequestsAreRefusedWithoutHarm) {
  SamplingParams bad = Greedy(10);
  bad.top_p = 0;
  auto out = llm_->Generate({std::string("x")}, {bad}, {.use_progress_bar = false});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("top_p"), std::string::npos);
  auto oov = llm_->Generate({std::vector<TokenId>{1, 100000}}, {Greedy(4)}, {.use_progress_bar = false});
  EXPECT_EQ(oov.status().code(), absl::StatusCode::kInvalidArgument);
  auto too_long = llm_->Generate({std::string("Once")}, {Greedy(100000)}, {.use_progress_bar = false});
  EXPECT_NE(too_long.status().message().find("maximum context length is 512"), std::string::npos);
  // The engine still works.
  EXPECT_FALSE(Run("Once", Greedy(4)).token_ids.empty());
}

}  // namespace
}  // namespace pagellm
