// The global request-body budget (ServerOptions::max_total_body_bytes): bodies being read or
// handled share one bound; beyond it requests get 503 + Retry-After, and every byte is given back
// when the handler returns, the request fails, or the client goes away.
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "src/server/http/http_testutil.h"
#include "src/server/http/server.h"

namespace pagellm::http {
namespace {

using testing::PostRequest;
using testing::StartTestServer;
using testing::TestClient;
using testing::WaitFor;

// Answers 200 with the body size; requests to /hold wait in the handler until Release().
class Holder {
 public:
  Handler handler() {
    return [this](Request request, std::shared_ptr<ResponseWriter> writer) {
      if (request.path == "/hold") {
        ++holding;
        gate_.wait();
      }
      writer->Send(200, {{"Content-Type", "text/plain"}}, std::to_string(request.body.size()));
    };
  }
  void Release() { open_.set_value(); }
  std::atomic<int> holding{0};

 private:
  std::promise<void> open_;
  std::shared_future<void> gate_ = open_.get_future().share();
};

ServerOptions BudgetOptions() {
  ServerOptions options;
  options.max_body_bytes = 1 << 20;
  options.max_total_body_bytes = (3 << 20) / 2;  // one max-size body fits, two don't
  return options;
}

void Expect503RetryAfter(const testing::ClientResponse& r) {
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.Header("retry-after"), "1");
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_NE(r.body.find("server_overloaded"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("retry later"), std::string::npos) << r.body;
}

TEST(HttpBodyBudgetTest, BodiesBeyondTheSharedBudgetGet503UntilBytesAreReleased) {
  Holder holder;
  auto server = StartTestServer(holder.handler(), BudgetOptions());
  ASSERT_NE(server, nullptr);
  const std::string big(1 << 20, 'a');

  TestClient a(server->port());
  ASSERT_TRUE(a.Send(PostRequest("/hold", big)));
  ASSERT_TRUE(WaitFor([&] { return holder.holding.load() == 1; }));
  EXPECT_EQ(server->stats().body_bytes_held, 1 << 20) << "held while the handler runs";

  // A second large body doesn't fit: refused before it is read.
  TestClient b(server->port());
  auto refused = b.RoundTrip(PostRequest("/x", big));
  ASSERT_TRUE(refused) << b.error();
  Expect503RetryAfter(*refused);
  EXPECT_EQ(server->stats().body_budget_rejections, 1);

  // Small bodies still fit beside the large one.
  TestClient c(server->port());
  auto small = c.RoundTrip(PostRequest("/x", std::string(1000, 'b')));
  ASSERT_TRUE(small) << c.error();
  EXPECT_EQ(small->status, 200);
  EXPECT_EQ(small->body, "1000");

  holder.Release();
  auto held = a.ReadResponse();
  ASSERT_TRUE(held) << a.error();
  EXPECT_EQ(held->status, 200);
  EXPECT_EQ(held->body, std::to_string(1 << 20));
  ASSERT_TRUE(WaitFor([&] { return server->stats().body_bytes_held == 0; }));

  // With the bytes given back, the refused request goes through when retried.
  TestClient retry(server->port());
  auto ok = retry.RoundTrip(PostRequest("/x", big));
  ASSERT_TRUE(ok) << retry.error();
  EXPECT_EQ(ok->status, 200);
  EXPECT_TRUE(WaitFor([&] { return server->stats().body_bytes_held == 0; }));
}

TEST(HttpBodyBudgetTest, ChunkedBodiesAreCountedAsTheyArrive) {
  Holder holder;
  auto server = StartTestServer(holder.handler(), BudgetOptions());
  ASSERT_NE(server, nullptr);
  TestClient a(server->port());
  ASSERT_TRUE(a.Send(PostRequest("/hold", std::string(1 << 20, 'a'))));
  ASSERT_TRUE(WaitFor([&] { return holder.holding.load() == 1; }));

  TestClient b(server->port());
  ASSERT_TRUE(b.Send("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk(64 << 10, 'c');
  char size_line[32];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
  // 16 chunks of 64 KiB: the budget (1.5 MiB, 1 MiB held) runs out on the way.
  for (int i = 0; i < 16; ++i) {
    if (!b.Send(std::string(size_line) + chunk + "\r\n")) break;  // the server may close first
  }
  b.Send("0\r\n\r\n");
  auto refused = b.ReadResponse();
  ASSERT_TRUE(refused) << b.error();
  Expect503RetryAfter(*refused);
  EXPECT_EQ(server->stats().body_bytes_held, 1 << 20) << "the refused body's bytes are given back";

  holder.Release();
  auto held = a.ReadResponse();
  ASSERT_TRUE(held) << a.error();
  EXPECT_EQ(held->status, 200);
  EXPECT_TRUE(WaitFor([&] { return server->stats().body_bytes_held == 0; }));
}

TEST(HttpBodyBudgetTest, ClientsLeavingMidBodyOrFailingGiveTheirBytesBack) {
  auto server = StartTestServer(testing::EchoHandler(), BudgetOptions());
  ASSERT_NE(server, nullptr);
  {
    TestClient gone(server->port());
    ASSERT_TRUE(gone.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc"));
    ASSERT_TRUE(WaitFor([&] { return server->stats().body_bytes_held == 1000000; }));
    gone.Reset();
  }
  EXPECT_TRUE(WaitFor([&] { return server->stats().body_bytes_held == 0; })) << "released on disconnect";
  {
    // A malformed chunked body after some bytes were counted.
    TestClient bad(server->port());
    auto r = bad.RoundTrip("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n");
    ASSERT_TRUE(r) << bad.error();
    EXPECT_EQ(r->status, 400);
  }
  EXPECT_TRUE(WaitFor([&] { return server->stats().body_bytes_held == 0; })) << "released on a bad request";
  // Many small requests on one keep-alive connection don't accumulate.
  TestClient keep(server->port());
  for (int i = 0; i < 50; ++i) {
    auto r = keep.RoundTrip(PostRequest("/x", std::string(100000, 'k')));
    ASSERT_TRUE(r) << keep.error();
    ASSERT_EQ(r->status, 200);
  }
  EXPECT_TRUE(WaitFor([&] { return server->stats().body_bytes_held == 0; }));
}

TEST(HttpBodyBudgetTest, TheBudgetMustHoldOneLargestBody) {
  ServerOptions options;
  options.max_body_bytes = 1 << 20;
  options.max_total_body_bytes = 1000;
  auto server = Server::Start(options, testing::EchoHandler());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(std::string(server.status().message()).find("max_total_body_bytes"), std::string::npos);
}

}  // namespace
}  // namespace pagellm::http
