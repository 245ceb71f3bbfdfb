// EngineLoop under faults and concurrency: a throwing output callback fails its request alone, a
// failing step stops the loop and fails every request, many threads submitting and aborting at
// once leave no request behind and every KV block free, Shutdown aborts what still runs.
// (Run under ThreadSanitizer by scripts/test.sh.)
#include "src/engine/engine_loop.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "gtest/gtest.h"
#include "src/engine/engine_testutil.h"

namespace pagellm {
namespace {

using testing::Greedy;
using testing::MakeRandomEngine;

std::unique_ptr<EngineLoop> MakeLoop(int64_t num_blocks = 0) {
  EngineConfig config;
  config.threads = 1;
  config.num_blocks = num_blocks;
  config.seed = 3;
  auto engine = MakeRandomEngine(config);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return std::make_unique<EngineLoop>(std::move(*engine));
}

EngineRequest Streaming(const std::string& id, int prompt_len, int max_tokens) {
  std::vector<TokenId> prompt;
  for (int i = 0; i < prompt_len; ++i) prompt.push_back(3 + (i * 7 + static_cast<int>(id.size())) % 300);
  EngineRequest r = Greedy(id, std::move(prompt), max_tokens);
  r.stream = true;
  return r;
}

// Collects one request's callback calls (engine thread) for a test thread to wait on.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RequestOutput> outputs;
  std::vector<Status> errors;
  int calls = 0;
  bool finished = false;

  OutputCallback Callback(int throw_on_call = 0) {
    return [this, throw_on_call](StatusOr<RequestOutput> o) {
      std::lock_guard lock(mu);
      ++calls;
      if (!o.ok()) {
        errors.push_back(o.status());
        finished = true;
      } else {
        finished = o->finished;
        outputs.push_back(std::move(*o));
      }
      cv.notify_all();
      if (calls == throw_on_call) throw std::runtime_error("injected fault in an output callback");
    };
  }
  bool WaitFinished(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return finished; });
  }
  bool WaitErrors(size_t n, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return errors.size() >= n; });
  }
};

bool WaitIdle(const EngineLoop& loop) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const EngineSnapshot s = loop.Snapshot();
    if (s.stats.num_running == 0 && s.stats.num_waiting == 0 && s.stats.kv.used_blocks == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST(EngineLoopTest, ThrowingCallbackFailsOnlyItsRequest) {
  auto loop = MakeLoop();
  std::vector<std::unique_ptr<Collector>> good;
  for (int i = 0; i < 6; ++i) {
    good.push_back(std::make_unique<Collector>());
    ASSERT_TRUE(loop->Submit(Streaming("good" + std::to_string(i), 5 + i, 40), good.back()->Callback()).ok());
  }
  Collector bad;
  ASSERT_TRUE(loop->Submit(Streaming("bad", 9, 200), bad.Callback(/*throw_on_call=*/3)).ok());
  Collector bad_final;  // throws on its final output (one output: not streaming)
  EngineRequest r = Greedy("bad-final", {5, 6, 7}, 10);
  ASSERT_TRUE(loop->Submit(std::move(r), bad_final.Callback(/*throw_on_call=*/1)).ok());

  ASSERT_TRUE(bad.WaitErrors(1));
  ASSERT_TRUE(bad_final.WaitErrors(1));
  for (auto& c : good) ASSERT_TRUE(c->WaitFinished());
  for (auto& c : good) {
    std::lock_guard lock(c->mu);
    EXPECT_TRUE(c->errors.empty());
    ASSERT_FALSE(c->outputs.empty());
    EXPECT_TRUE(c->outputs.back().finished);
    EXPECT_EQ(c->outputs.back().outputs[0].token_ids.size(), 40u) << "the others complete whole";
  }
  ASSERT_TRUE(WaitIdle(*loop)) << "the failed request's KV blocks are freed";
  {
    std::lock_guard lock(bad.mu);
    EXPECT_EQ(bad.calls, 4) << "two outputs, the throwing one, then one error and nothing more";
    ASSERT_EQ(bad.errors.size(), 1u);
    EXPECT_EQ(bad.errors[0].code(), absl::StatusCode::kInternal);
  }
  {
    std::lock_guard lock(bad_final.mu);
    EXPECT_EQ(bad_final.calls, 2);
    EXPECT_EQ(bad_final.errors.size(), 1u);
  }
  EXPECT_TRUE(loop->alive());
  // The loop still serves.
  auto stream = loop->Submit(Greedy("after", {4, 5}, 7));
  ASSERT_TRUE(stream.ok());
  std::optional<RequestOutput> last;
  while (auto o = (*stream)->Next()) last = std::move(o);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->outputs[0].token_ids.size(), 7u);
}

TEST(EngineLoopTest, ThrowingStepStopsTheLoopAndFailsEveryRequest) {
  auto loop = MakeLoop();
  std::vector<std::unique_ptr<Collector>> cs;
  for (int i = 0; i < 4; ++i) {
    cs.push_back(std::make_unique<Collector>());
    ASSERT_TRUE(loop->Submit(Streaming("r" + std::to_string(i), 4, 500), cs.back()->Callback()).ok());
  }
  // Let them run a little, then fail the model.
  {
    std::unique_lock lock(cs[0]->mu);
    ASSERT_TRUE(cs[0]->cv.wait_for(lock, std::chrono::seconds(30), [&] { return !cs[0]->outputs.empty(); }));
  }
  std::atomic<int> hook_calls{0};
  loop->SetStepHookForTesting([&]() -> Status {
    if (hook_calls.fetch_add(1) == 0) throw std::runtime_error("injected fault in the model step");
    return absl::OkStatus();
  });
  for (auto& c : cs) ASSERT_TRUE(c->WaitFinished());
  for (auto& c : cs) {
    std::lock_guard lock(c->mu);
    ASSERT_EQ(c->errors.size(), 1u);
    EXPECT_NE(std::string(c->errors[0].message()).find("injected fault"), std::string::npos) << c->errors[0];
  }
  EXPECT_FALSE(loop->alive());
  const EngineSnapshot snap = loop->Snapshot();
  EXPECT_FALSE(snap.alive);
  EXPECT_FALSE(snap.error.ok());
  auto refused = loop->Submit(Greedy("late", {4}, 3));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(refused.status().message()).find("injected fault"), std::string::npos);
}

TEST(EngineLoopTest, ManyThreadsSubmitAndAbortConcurrently) {
  auto loop = MakeLoop(/*num_blocks=*/96);  // small: some requests are preempted on the way
  std::atomic<int> observed_steps{0};
  loop->SetStepObserver([&](const EngineStats&, const std::vector<RequestOutput>&) { observed_steps.fetch_add(1); });
  constexpr int kThreads = 6, kPerThread = 12;
  std::atomic<int> finished{0}, aborted{0}, whole{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(k);
        const int max_tokens = 5 + (t * 13 + k * 7) % 60;
        auto stream = loop->Submit(Streaming(id, 1 + (t + k) % 40, max_tokens));
        if (!stream.ok()) {
          failures.fetch_add(1);
          continue;
        }
        const bool cut = k % 3 == 0;
        std::optional<RequestOutput> last;
        int outputs = 0;
        while (auto o = (*stream)->Next()) {
          if (cut && ++outputs == 2) loop->Abort(id);
          last = std::move(o);
        }
        if (!last || !last->finished) {
          failures.fetch_add(1);
          continue;
        }
        finished.fetch_add(1);
        const CompletionOutput& c = last->outputs[0];
        if (c.finish_reason == FinishReason::kAbort) aborted.fetch_add(1);
        if (c.finish_reason == FinishReason::kLength && c.token_ids.size() == static_cast<size_t>(max_tokens)) {
          whole.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(finished.load(), kThreads * kPerThread) << "every request ends exactly once";
  EXPECT_EQ(whole.load() + aborted.load(), kThreads * kPerThread);
  EXPECT_GT(whole.load(), kThreads * kPerThread / 2);
  ASSERT_TRUE(WaitIdle(*loop)) << "every KV block is free";
  EXPECT_GT(observed_steps.load(), 0);
  EXPECT_TRUE(loop->alive());
}

TEST(EngineLoopTest, ShutdownAbortsRunningRequestsAndRefusesNewOnes) {
  auto loop = MakeLoop();
  std::vector<std::shared_ptr<OutputStream>> streams;
  for (int i = 0; i < 5; ++i) {
    auto s = loop->Submit(Streaming("s" + std::to_string(i), 3, 900));
    ASSERT_TRUE(s.ok());
    streams.push_back(*s);
  }
  ASSERT_TRUE(streams[0]->Next().has_value());  // running
  std::thread stopper([&] { loop->Shutdown(); });
  for (auto& s : streams) {
    std::optional<RequestOutput> last;
    while (auto o = s->Next()) last = std::move(o);
    if (last && last->finished) {
      EXPECT_EQ(last->outputs[0].finish_reason, FinishReason::kAbort);
    } else {
      EXPECT_FALSE(s->status().ok()) << "a stream ends with its final output or an error";
    }
  }
  stopper.join();
  EXPECT_FALSE(loop->alive());
  auto late = loop->Submit(Greedy("late", {4}, 3));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  loop->Shutdown();  // idempotent
}

}  // namespace
}  // namespace pagellm
