// ApiServer over the real HTTP transport and an EngineLoop on a small random model (token-id
// prompts): concurrent streams with disconnects leave nothing behind, a prompt longer than the KV
// cache is refused at admission, and a failing engine fails its requests and turns /health to 503.
// (Run under ThreadSanitizer by scripts/test.sh.)
#include "src/server/api_server.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/engine/engine_testutil.h"
#include "src/server/http/http_testutil.h"

namespace pagellm::server {
namespace {

using http::testing::GetRequest;
using http::testing::PostRequest;
using http::testing::TestClient;
using http::testing::WaitFor;

class ApiServerTest : public ::testing::Test {
 protected:
  void Start(int64_t num_blocks = 0) {
    EngineConfig config;
    config.threads = 1;
    config.num_blocks = num_blocks;
    config.seed = 5;
    auto engine = pagellm::testing::MakeRandomEngine(config);
    ASSERT_TRUE(engine.ok()) << engine.status();
    api_ = std::make_unique<ApiServer>(ApiServerOptions{.served_model_name = "rand", .model_path = "/rand"});
    ASSERT_TRUE(api_->SetEngine(std::make_unique<EngineLoop>(std::move(*engine))).ok());
    http_ = http::testing::StartTestServer(
        [this](http::Request r, std::shared_ptr<http::ResponseWriter> w) { api_->Handle(std::move(r), std::move(w)); });
    ASSERT_NE(http_, nullptr);
  }
  void TearDown() override {
    if (http_) http_->Shutdown(std::chrono::milliseconds(0));
    api_.reset();
  }

  int Health() {
    TestClient c(http_->port());
    auto r = c.RoundTrip(GetRequest("/health"));
    return r ? r->status : -1;
  }

  bool Idle() {
    const EngineSnapshot s = api_->loop()->Snapshot();
    return s.stats.num_running == 0 && s.stats.num_waiting == 0 && s.stats.kv.used_blocks == 0;
  }

  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<http::Server> http_;
};

std::string CompletionBody(int prompt_len, int max_tokens, bool stream) {
  nlohmann::json prompt = nlohmann::json::array();
  for (int i = 0; i < prompt_len; ++i) prompt.push_back(3 + (i * 11) % 300);
  return nlohmann::json{{"model", "rand"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0},
                        {"ignore_eos", true}, {"stream", stream}, {"stream_options", {{"include_usage", true}}}}
      .dump();
}

// Reads an SSE response to its end; the concatenated body.
std::optional<std::string> ReadStream(TestClient& c) {
  auto head = c.ReadHead();
  if (!head || head->status != 200) return std::nullopt;
  std::string body;
  for (;;) {
    auto chunk = c.ReadChunk();
    if (!chunk) return std::nullopt;
    if (chunk->empty()) return body;
    body += *chunk;
  }
}

TEST_F(ApiServerTest, ConcurrentStreamsWithDisconnectsCompleteAndFreeEverything) {
  Start();
  ASSERT_EQ(Health(), 200);
  constexpr int kThreads = 8, kPerThread = 6;
  std::atomic<int> whole{0}, cut{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        const int max_tokens = 4 + (t * 5 + k * 3) % 40;
        TestClient c(http_->port());
        if (!c.Send(PostRequest("/v1/completions", CompletionBody(1 + (t + k) % 30, max_tokens, true)))) {
          ++bad;
          continue;
        }
        if ((t + k) % 4 == 0) {  // a client that leaves mid-stream
          if (!c.ReadHead()) ++bad;
          c.Reset();
          ++cut;
          continue;
        }
        auto body = ReadStream(c);
        const std::string usage = "\"completion_tokens\":" + std::to_string(max_tokens);
        if (body && body->ends_with("data: [DONE]\n\n") && body->find("\"finish_reason\":\"length\"") != std::string::npos &&
            body->find(usage) != std::string::npos) {
          ++whole;
        } else {
          ++bad;
          ADD_FAILURE() << (body ? *body : "no body");
        }
      }
    });
  }
  // /health and /metrics are read concurrently with the load.
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      TestClient c(http_->port());
      auto r = c.RoundTrip(GetRequest("/metrics"));
      if (!r || r->status != 200) ++bad;
      EXPECT_EQ(Health(), 200);
    }
  });
  for (auto& th : threads) th.join();
  done.store(true);
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(whole.load() + cut.load(), kThreads * kPerThread);
  EXPECT_TRUE(WaitFor([&] { return Idle(); })) << "no request left running and every KV block free";
  EXPECT_TRUE(WaitFor([&] { return http_->in_flight() == 0; }));
  EXPECT_EQ(Health(), 200);
}

TEST_F(ApiServerTest, PromptLongerThanTheCacheIsRefusedAtAdmission) {
  Start(/*num_blocks=*/4);  // 64 token slots
  TestClient c(http_->port());
  auto r = c.RoundTrip(PostRequest("/v1/completions", CompletionBody(100, 4, false)));
  ASSERT_TRUE(r) << c.error();
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("KV cache blocks"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("the whole cache has 4"), std::string::npos) << r->body;
  // A request that fits still runs.
  TestClient ok(http_->port());
  auto fits = ok.RoundTrip(PostRequest("/v1/completions", CompletionBody(20, 10, false)));
  ASSERT_TRUE(fits) << ok.error();
  EXPECT_EQ(fits->status, 200) << fits->body;
  EXPECT_TRUE(WaitFor([&] { return Idle(); }));
}

TEST_F(ApiServerTest, EngineFailureFailsRequestsAndHealthTurns503) {
  Start();
  TestClient streaming(http_->port());
  ASSERT_TRUE(streaming.Send(PostRequest("/v1/completions", CompletionBody(5, 900, true))));
  auto head = streaming.ReadHead();
  ASSERT_TRUE(head) << streaming.error();
  ASSERT_EQ(head->status, 200);
  TestClient plain(http_->port());
  ASSERT_TRUE(plain.Send(PostRequest("/v1/completions", CompletionBody(5, 900, false))));
  ASSERT_TRUE(WaitFor([&] { return api_->loop()->Snapshot().stats.num_running == 2; }));
  EXPECT_EQ(Health(), 200) << "healthy while the loop is alive";

  api_->loop()->SetStepHookForTesting([] { return Internal("injected model failure"); });

  std::string body;
  for (;;) {
    auto chunk = streaming.ReadChunk();
    ASSERT_TRUE(chunk) << streaming.error();
    if (chunk->empty()) break;
    body += *chunk;
  }
  EXPECT_NE(body.find("injected model failure"), std::string::npos) << body;
  EXPECT_TRUE(body.ends_with("data: [DONE]\n\n")) << body;
  auto failed = plain.ReadResponse();
  ASSERT_TRUE(failed) << plain.error();
  EXPECT_EQ(failed->status, 500) << failed->body;
  EXPECT_NE(failed->body.find("injected model failure"), std::string::npos) << failed->body;

  EXPECT_EQ(Health(), 503) << "/health is 200 only while the engine loop is alive";
  TestClient late(http_->port());
  auto refused = late.RoundTrip(PostRequest("/v1/completions", CompletionBody(5, 4, false)));
  ASSERT_TRUE(refused) << late.error();
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_FALSE(refused->Header("retry-after").empty());
}

}  // namespace
}  // namespace pagellm::server
