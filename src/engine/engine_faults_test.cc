// A request whose own processing throws inside an engine step fails alone: it ends aborted with an
// error, its KV blocks are freed, and every other request (greedy, parallel sampling, beam search)
// produces exactly the tokens it produces without the fault.
#include <future>
#include <stdexcept>

#include "gtest/gtest.h"
#include "src/engine/engine.h"
#include "src/engine/engine_loop.h"
#include "src/engine/engine_testutil.h"

namespace pagellm {
namespace {

using testing::Greedy;
using testing::MakeRandomEngine;
using testing::RunAll;

std::vector<TokenId> Prompt(int len, int salt) {
  std::vector<TokenId> p;
  for (int i = 0; i < len; ++i) p.push_back(3 + (i * 11 + salt * 5) % 250);
  return p;
}

std::vector<EngineRequest> Workload() {
  std::vector<EngineRequest> reqs;
  reqs.push_back(Greedy("a", Prompt(21, 1), 12));
  reqs.push_back(Greedy("victim", Prompt(37, 2), 12));
  EngineRequest n2 = Greedy("n2", Prompt(18, 3), 10);
  n2.params.n = 2;
  n2.params.temperature = 0.8;
  n2.params.seed = 7;
  reqs.push_back(n2);
  EngineRequest beam = Greedy("beam", Prompt(9, 4), 8);
  beam.params.use_beam_search = true;
  beam.params.n = 2;
  beam.params.best_of = 3;  // beam width
  reqs.push_back(beam);
  reqs.push_back(Greedy("d", Prompt(5, 5), 15));
  return reqs;
}

std::unique_ptr<Engine> MakeEngine() {
  EngineConfig config;
  config.threads = 1;
  config.seed = 11;
  config.max_num_batched_tokens = 32;  // the victim's prompt takes two steps
  auto engine = MakeRandomEngine(config);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return std::move(*engine);
}

void ExpectSameTokens(const RequestOutput& got, const RequestOutput& want) {
  ASSERT_EQ(got.outputs.size(), want.outputs.size()) << got.request_id;
  for (size_t k = 0; k < got.outputs.size(); ++k) {
    EXPECT_EQ(got.outputs[k].token_ids, want.outputs[k].token_ids) << got.request_id << " output " << k;
    EXPECT_EQ(got.outputs[k].finish_reason, want.outputs[k].finish_reason) << got.request_id;
  }
  EXPECT_TRUE(got.error.empty()) << got.request_id << ": " << got.error;
}

// Runs the workload with the hook throwing for `victim` on its `fail_on`-th processed step.
void RunWithFault(const std::string& victim, int fail_on) {
  SCOPED_TRACE("victim " + victim + ", fails on its step " + std::to_string(fail_on));
  auto clean_engine = MakeEngine();
  const auto want = RunAll(*clean_engine, Workload());

  auto engine = MakeEngine();
  int calls = 0;
  engine->SetRequestHookForTesting([&](const std::string& id) {
    if (id == victim && ++calls == fail_on) throw std::runtime_error("injected fault");
  });
  const auto got = RunAll(*engine, Workload());
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(calls, fail_on);
  for (const auto& [id, out] : got) {
    if (id == victim) {
      EXPECT_TRUE(out.finished);
      EXPECT_NE(out.error.find("injected fault"), std::string::npos) << out.error;
      EXPECT_NE(out.error.find(victim), std::string::npos) << out.error;
      for (const auto& c : out.outputs) EXPECT_EQ(c.finish_reason, FinishReason::kAbort);
    } else {
      ExpectSameTokens(out, want.at(id));
    }
  }
  const EngineStats stats = engine->Stats();
  EXPECT_EQ(stats.kv.used_blocks, 0);
  EXPECT_EQ(stats.num_running + stats.num_waiting, 0);

  // The engine goes on: a new request runs as it would have on a fresh engine.
  engine->SetRequestHookForTesting(nullptr);
  const auto after = RunAll(*engine, {Greedy("later", Prompt(30, 9), 10)});
  const auto fresh = RunAll(*MakeEngine(), {Greedy("later", Prompt(30, 9), 10)});
  ExpectSameTokens(after.at("later"), fresh.at("later"));
}

TEST(EngineFaultsTest, ThrowingGreedyRequestInItsPrefillFailsAlone) { RunWithFault("victim", 1); }
TEST(EngineFaultsTest, ThrowingGreedyRequestInDecodeFailsAlone) { RunWithFault("victim", 5); }
TEST(EngineFaultsTest, ThrowingParallelSamplingRequestFailsAlone) { RunWithFault("n2", 3); }
TEST(EngineFaultsTest, ThrowingBeamSearchRequestFailsAlone) { RunWithFault("beam", 4); }

// Through the engine loop: the victim's consumer gets one Internal error naming the request, the
// others their normal final outputs, and the loop stays alive.
TEST(EngineFaultsTest, EngineLoopReportsTheFailureToThatRequestOnly) {
  auto engine = MakeEngine();
  engine->SetRequestHookForTesting([](const std::string& id) {
    if (id == "victim") throw std::runtime_error("injected fault");
  });
  EngineLoop loop(std::move(engine));
  std::vector<std::pair<EngineRequest, OutputCallback>> batch;
  std::map<std::string, std::promise<StatusOr<RequestOutput>>> done;
  for (EngineRequest& r : Workload()) {
    auto& p = done[r.request_id];
    batch.emplace_back(std::move(r), [&p](StatusOr<RequestOutput> o) {
      if (!o.ok() || o->finished) p.set_value(std::move(o));
    });
  }
  for (const Status& s : loop.SubmitBatch(std::move(batch))) ASSERT_TRUE(s.ok()) << s;
  for (auto& [id, p] : done) {
    auto result = p.get_future().get();
    if (id == "victim") {
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
      EXPECT_NE(std::string(result.status().message()).find("victim"), std::string::npos) << result.status();
    } else {
      ASSERT_TRUE(result.ok()) << id << ": " << result.status();
      EXPECT_FALSE(result->outputs.empty());
    }
  }
  EXPECT_TRUE(loop.alive());
}

}  // namespace
}  // namespace pagellm
