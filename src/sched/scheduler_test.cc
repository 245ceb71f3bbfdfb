// Scheduler tests with a fake deterministic "model" (next token = f(tokens)); no weights involved.
#include "src/sched/scheduler.h"

#include <map>
#include <numeric>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pagellm {
namespace {

using ::testing::ElementsAre;

constexpr TokenId kEos = 2;

TokenId FakeNext(std::span<const TokenId> tokens) {
  uint64_t h = 1469598103934665603ull;
  for (TokenId t : tokens) h = (h ^ static_cast<uint64_t>(t)) * 1099511628211ull;
  return static_cast<TokenId>(3 + h % 500);  // never EOS
}

struct Harness {
  explicit Harness(int64_t num_blocks, SchedulerConfig cfg = {}, int64_t block_size = 4,
                   bool caching = false)
      : kv({.num_blocks = num_blocks, .block_size = block_size, .enable_prefix_caching = caching,
            .hash_seed = 7}),
        sched(cfg, &kv, {kEos}) {}

  Status Add(const std::string& id, int64_t prompt_len, int max_tokens, int n = 1,
             int priority = 0, TokenId first = 10) {
    auto r = std::make_unique<Request>();
    r->request_id = id;
    r->prompt.resize(prompt_len);
    std::iota(r->prompt.begin(), r->prompt.end(), first);
    r->params.max_tokens = max_tokens;
    r->params.n = n;
    r->params.temperature = 0;
    r->priority = priority;
    return sched.AddRequest(std::move(r));
  }

  // One engine step with the fake model; returns the output for inspection.
  SchedulerOutput Step() {
    SchedulerOutput out = sched.Schedule();
    std::vector<TokenId> sampled(out.entries.size(), 0);
    for (size_t i = 0; i < out.entries.size(); ++i) {
      const auto& e = out.entries[i];
      if (!e.sample) continue;
      // Every token up to the end must have KV after this step: the fake model "reads" them.
      EXPECT_EQ(e.start + e.num_tokens, e.seq->num_tokens());
      sampled[i] = FakeNext(e.seq->tokens);
      EXPECT_GE(static_cast<int64_t>(e.block_table.size()) * kv.block_size(), e.seq->num_tokens());
    }
    sched.Update(out, sampled);
    for (auto& r : sched.TakeFinished()) {
      for (auto& s : r->seqs) outputs[r->request_id].push_back({s->output().begin(), s->output().end()});
      reasons[r->request_id] = r->seqs[0]->finish_reason;
    }
    return out;
  }

  void RunToCompletion(int max_steps = 10000) {
    for (int i = 0; i < max_steps && sched.HasUnfinished(); ++i) Step();
    ASSERT_FALSE(sched.HasUnfinished());
  }

  KvCacheManager kv;
  Scheduler sched;
  std::map<std::string, std::vector<std::vector<TokenId>>> outputs;
  std::map<std::string, FinishReason> reasons;
};

TEST(SchedulerTest, ChunkedPrefillThenDecodeUnderTheBudget) {
  SchedulerConfig cfg;
  cfg.max_num_batched_tokens = 4;
  Harness h(64, cfg);
  ASSERT_TRUE(h.Add("a", 10, 3).ok());
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int i = 0; i < 5; ++i) {
    auto out = h.Step();
    ASSERT_EQ(out.entries.size(), 1u);
    ranges.emplace_back(out.entries[0].start, out.entries[0].num_tokens);
  }
  EXPECT_THAT(ranges, ElementsAre(std::pair<int64_t, int64_t>{0, 4}, std::pair<int64_t, int64_t>{4, 4},
                                  std::pair<int64_t, int64_t>{8, 2}, std::pair<int64_t, int64_t>{10, 1},
                                  std::pair<int64_t, int64_t>{11, 1}));
  EXPECT_EQ(h.reasons["a"], FinishReason::kLength);
  ASSERT_EQ(h.outputs["a"].size(), 1u);
  EXPECT_EQ(h.outputs["a"][0].size(), 3u);
  EXPECT_EQ(h.kv.Stats().used_blocks, 0);
}

TEST(SchedulerTest, DecodesGoFirstAndPrefillsTakeTheRestOfTheBudget) {
  SchedulerConfig cfg;
  cfg.max_num_batched_tokens = 6;
  Harness h(64, cfg);
  ASSERT_TRUE(h.Add("a", 3, 5).ok());
  h.Step();  // a: prefill 3, samples
  ASSERT_TRUE(h.Add("b", 20, 2).ok());
  auto out = h.Step();
  ASSERT_EQ(out.entries.size(), 2u);
  EXPECT_EQ(out.entries[0].request->request_id, "a");
  EXPECT_EQ(out.entries[0].num_tokens, 1);
  EXPECT_EQ(out.entries[1].request->request_id, "b");
  EXPECT_EQ(out.entries[1].num_tokens, 5);
  EXPECT_EQ(out.num_batched_tokens, 6);
}

TEST(SchedulerTest, PreemptsTheLatestRequestAndItResumesWithTheSameOutput) {
  // Reference: each request alone in a big cache.
  std::map<std::string, std::vector<TokenId>> alone;
  for (auto [id, len] : {std::pair{"a", 9}, {"b", 7}, {"c", 5}}) {
    Harness ref(64);
    ASSERT_TRUE(ref.Add(id, len, 12, 1, 0, len).ok());
    ref.RunToCompletion();
    alone[id] = ref.outputs[id][0];
  }
  // Together in a cache of 12 blocks of 4: 3 x (up to 21 tokens = 6 blocks) cannot all fit.
  Harness h(12);
  ASSERT_TRUE(h.Add("a", 9, 12, 1, 0, 9).ok());
  ASSERT_TRUE(h.Add("b", 7, 12, 1, 0, 7).ok());
  ASSERT_TRUE(h.Add("c", 5, 12, 1, 0, 5).ok());
  h.RunToCompletion();
  EXPECT_GT(h.sched.num_preemptions(), 0);
  for (auto& [id, tokens] : alone) EXPECT_EQ(h.outputs[id][0], tokens) << id;
  EXPECT_EQ(h.kv.Stats().used_blocks, 0);
}

TEST(SchedulerTest, RefusesRequestsThatCanNeverFit) {
  SchedulerConfig cfg;
  cfg.max_model_len = 64;
  Harness h(8, cfg);
  Status too_long = h.Add("x", 60, 10);
  EXPECT_EQ(too_long.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_long.message()), ::testing::HasSubstr("maximum context length is 64"));
  Status too_big = h.Add("y", 30, 10);  // 8 + 4 blocks > 8
  EXPECT_THAT(std::string(too_big.message()), ::testing::HasSubstr("whole cache has 8"));
  EXPECT_FALSE(h.Add("z", 0, 1).ok());
  EXPECT_FALSE(h.sched.HasUnfinished());
}

TEST(SchedulerTest, AbortFreesBlocksWherever) {
  Harness h(64);
  ASSERT_TRUE(h.Add("a", 10, 50).ok());
  ASSERT_TRUE(h.Add("b", 10, 50).ok());
  h.Step();
  h.Step();
  EXPECT_GT(h.kv.Stats().used_blocks, 0);
  EXPECT_TRUE(h.sched.Abort("a"));
  EXPECT_TRUE(h.sched.Abort("b"));
  EXPECT_FALSE(h.sched.Abort("b"));
  EXPECT_EQ(h.kv.Stats().used_blocks, 0);
  EXPECT_FALSE(h.sched.HasUnfinished());
  auto finished = h.sched.TakeFinished();
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_EQ(finished[0]->seqs[0]->finish_reason, FinishReason::kAbort);
  // Aborting a waiting request works too.
  ASSERT_TRUE(h.Add("c", 10, 5).ok());
  EXPECT_TRUE(h.sched.Abort("c"));
  EXPECT_EQ(h.sched.num_waiting(), 0);
}

TEST(SchedulerTest, ParallelSamplingForksThePromptBlocks) {
  Harness h(64);
  ASSERT_TRUE(h.Add("a", 10, 4, /*n=*/3).ok());
  auto out = h.Step();
  ASSERT_EQ(out.entries.size(), 3u);
  EXPECT_EQ(out.entries[1].parent_entry, 0);
  EXPECT_EQ(out.entries[1].num_tokens, 0);
  // Three sequences share the 3 prompt blocks (the last one partly filled).
  EXPECT_EQ(h.kv.Stats().used_blocks, 3);
  EXPECT_EQ(h.kv.Stats().shared_blocks, 3);
  out = h.Step();  // two children copy the shared last block before writing
  EXPECT_EQ(out.block_copies.size(), 2u);
  h.RunToCompletion();
  ASSERT_EQ(h.outputs["a"].size(), 3u);
  EXPECT_EQ(h.kv.Stats().used_blocks, 0);
}

TEST(SchedulerTest, PriorityPolicyAdmitsLowerValuesFirst) {
  SchedulerConfig cfg;
  cfg.priority_policy = true;
  cfg.max_num_seqs = 1;
  Harness h(64, cfg);
  ASSERT_TRUE(h.Add("low", 4, 2, 1, /*priority=*/5).ok());
  ASSERT_TRUE(h.Add("high", 4, 2, 1, /*priority=*/-1).ok());
  auto out = h.Step();
  ASSERT_EQ(out.entries.size(), 1u);
  EXPECT_EQ(out.entries[0].request->request_id, "high");
}

TEST(SchedulerTest, MaxNumSeqsBoundsTheRunningSet) {
  SchedulerConfig cfg;
  cfg.max_num_seqs = 2;
  Harness h(64, cfg);
  for (std::string id : {"a", "b", "c"}) ASSERT_TRUE(h.Add(id, 4, 3).ok());
  auto out = h.Step();
  EXPECT_EQ(out.entries.size(), 2u);
  EXPECT_EQ(h.sched.num_waiting(), 1);
  h.RunToCompletion();
  EXPECT_EQ(h.outputs.size(), 3u);
}

TEST(SchedulerTest, WaitingQueueIsBounded) {
  SchedulerConfig cfg;
  cfg.max_num_waiting = 2;
  Harness h(64, cfg);
  ASSERT_TRUE(h.Add("a", 4, 3).ok());
  ASSERT_TRUE(h.Add("b", 4, 3).ok());
  EXPECT_EQ(h.Add("c", 4, 3).code(), absl::StatusCode::kResourceExhausted);
}

TEST(SchedulerTest, PrefixCacheHitSkipsComputedTokens) {
  Harness h(64, {}, 4, /*caching=*/true);
  ASSERT_TRUE(h.Add("a", 12, 2).ok());
  h.RunToCompletion();
  ASSERT_TRUE(h.Add("b", 12, 2).ok());  // same prompt
  auto out = h.Step();
  ASSERT_EQ(out.entries.size(), 1u);
  EXPECT_EQ(out.entries[0].start, 8);  // two full blocks reused; the last block recomputed
  EXPECT_EQ(out.entries[0].num_tokens, 4);
}

}  // namespace
}  // namespace pagellm
