// Connection lifecycle: client disconnects (OnDisconnect), clients that stop reading, graceful
// and forced shutdown, writers outliving the server.
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "src/server/http/http_testutil.h"
#include "src/server/http/server.h"

namespace pagellm::http {
namespace {

using testing::EchoHandler;
using testing::GetRequest;
using testing::StartTestServer;
using testing::TestClient;
using testing::WaitFor;

// Parks each request's writer; optionally starts a stream; counts OnDisconnect calls.
class Parker {
 public:
  explicit Parker(bool stream) : stream_(stream) {}
  Handler handler() {
    return [this](Request request, std::shared_ptr<ResponseWriter> writer) {
      writer->OnDisconnect([this] { ++disconnects; });
      if (stream_) writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
      std::lock_guard lock(mu_);
      writers_.push_back(std::move(writer));
    };
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return writers_.size();
  }
  std::shared_ptr<ResponseWriter> at(size_t i) {
    std::lock_guard lock(mu_);
    return writers_.at(i);
  }
  std::atomic<int> disconnects{0};

 private:
  const bool stream_;
  std::mutex mu_;
  std::vector<std::shared_ptr<ResponseWriter>> writers_;
};

TEST(HttpLifecycleTest, ClientClosingMidStreamIsNoticed) {
  for (const bool reset : {false, true}) {
    SCOPED_TRACE(reset ? "RST" : "FIN");
    Parker parker(/*stream=*/true);
    auto server = StartTestServer(parker.handler());
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(GetRequest("/stream")));
    ASSERT_TRUE(client.ReadHead());
    ASSERT_TRUE(WaitFor([&] { return parker.size() == 1; }));
    auto writer = parker.at(0);
    ASSERT_TRUE(writer->Write("data: 1\n\n"));
    ASSERT_TRUE(client.ReadChunk());
    if (reset) {
      client.Reset();
    } else {
      client.Close();
    }
    // Noticed through the pending read, without writing anything.
    ASSERT_TRUE(WaitFor([&] { return parker.disconnects.load() == 1; }));
    EXPECT_TRUE(writer->closed());
    EXPECT_TRUE(writer->disconnected());
    EXPECT_FALSE(writer->Write("data: 2\n\n"));
    writer->End();  // harmless
    EXPECT_TRUE(WaitFor([&] { return server->in_flight() == 0; }));
    EXPECT_TRUE(WaitFor([&] { return server->active_connections() == 0; }));
    EXPECT_EQ(parker.disconnects.load(), 1);
  }
}

TEST(HttpLifecycleTest, ClientClosingWhileRequestIsProcessedIsNoticed) {
  Parker parker(/*stream=*/false);
  auto server = StartTestServer(parker.handler());
  ASSERT_NE(server, nullptr);
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(GetRequest("/slow")));
    ASSERT_TRUE(WaitFor([&] { return parker.size() == 1; }));
    EXPECT_EQ(server->in_flight(), 1);
  }  // closes
  ASSERT_TRUE(WaitFor([&] { return parker.disconnects.load() == 1; }));
  auto writer = parker.at(0);
  EXPECT_TRUE(writer->disconnected());
  EXPECT_TRUE(WaitFor([&] { return server->in_flight() == 0; }));
  // A callback registered after the disconnect runs at once, on this thread.
  const auto self = std::this_thread::get_id();
  std::thread::id ran_on;
  writer->OnDisconnect([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, self);
  writer->Send(200, {}, "nobody is listening");  // harmless
}

TEST(HttpLifecycleTest, DisconnectNoticedWhilePipelinedRequestsWait) {
  Parker parker(/*stream=*/false);
  auto server = StartTestServer(parker.handler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(GetRequest("/1") + GetRequest("/2") + GetRequest("/3")));
  ASSERT_TRUE(WaitFor([&] { return parker.size() == 1; }));
  client.Reset();
  ASSERT_TRUE(WaitFor([&] { return parker.disconnects.load() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server->active_connections() == 0; }));
  EXPECT_EQ(parker.size(), 1u);  // the queued requests of a gone client never reach the handler
}

TEST(HttpLifecycleTest, StreamsWithDisconnectsUnderLoad) {
  Parker parker(/*stream=*/true);
  ServerOptions options;
  options.io_threads = 2;
  auto server = StartTestServer(parker.handler(), options);
  ASSERT_NE(server, nullptr);
  constexpr int kClients = 60;
  constexpr int kLeaving = kClients * 2 / 3;  // clients 0 mod 3 close (FIN), 1 mod 3 reset
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<TestClient>(server->port()));
    ASSERT_TRUE(clients.back()->Send(GetRequest("/s")));
  }
  ASSERT_TRUE(WaitFor([&] { return parker.size() == kClients; }));
  std::atomic<bool> engine_failed{false};
  std::thread engine([&] {
    // Decode steps until every leaving client is gone, then end the remaining streams.
    const auto deadline = std::chrono::steady_clock::now() + testing::kDefaultTimeout;
    for (int step = 0; parker.disconnects.load() < kLeaving; ++step) {
      if (std::chrono::steady_clock::now() > deadline) {
        engine_failed = true;
        break;
      }
      for (int i = 0; i < kClients; ++i) {
        parker.at(i)->Write("data: " + std::to_string(step) + "\n\n");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // pacing, not synchronization
    }
    for (int i = 0; i < kClients; ++i) parker.at(i)->End();
  });
  for (int i = 0; i < kClients; ++i) {
    if (i % 3 == 2) continue;
    ASSERT_TRUE(clients[i]->ReadHead()) << clients[i]->error();
    for (int k = 0; k < 3; ++k) ASSERT_TRUE(clients[i]->ReadChunk()) << clients[i]->error();
    if (i % 3 == 0) {
      clients[i]->Close();
    } else {
      clients[i]->Reset();
    }
  }
  engine.join();
  EXPECT_FALSE(engine_failed.load());
  EXPECT_EQ(parker.disconnects.load(), kLeaving);
  for (int i = 2; i < kClients; i += 3) {
    auto head = clients[i]->ReadHead();
    ASSERT_TRUE(head) << clients[i]->error();
    for (int step = 0;; ++step) {
      auto chunk = clients[i]->ReadChunk();
      ASSERT_TRUE(chunk) << clients[i]->error();
      if (chunk->empty()) break;
      EXPECT_EQ(*chunk, "data: " + std::to_string(step) + "\n\n");
    }
  }
  EXPECT_TRUE(WaitFor([&] { return server->in_flight() == 0; }));
  EXPECT_TRUE(WaitFor([&] { return server->active_connections() == kClients - kLeaving; }));
}

TEST(HttpLifecycleTest, NoDisconnectCallbackAfterTheResponseWasSent) {
  std::atomic<int> disconnects{0};
  auto server = StartTestServer([&](Request request, std::shared_ptr<ResponseWriter> writer) {
    writer->OnDisconnect([&] { ++disconnects; });
    writer->Send(200, {}, "done");
  });
  ASSERT_NE(server, nullptr);
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.RoundTrip(GetRequest("/")));
  }
  ASSERT_TRUE(WaitFor([&] { return server->active_connections() == 0; }));
  EXPECT_EQ(disconnects.load(), 0);
}

TEST(HttpLifecycleTest, CallbackOwningItsWriterDoesNotLeak) {
  // A callback that captures its own writer forms a cycle the transport must break, both when
  // the response completes and when the client leaves (LeakSanitizer checks the former).
  std::atomic<int> disconnects{0};
  std::mutex mu;
  std::vector<std::weak_ptr<ResponseWriter>> seen;
  auto server = StartTestServer([&](Request request, std::shared_ptr<ResponseWriter> writer) {
    writer->OnDisconnect([writer, &disconnects] { ++disconnects; });
    {
      std::lock_guard lock(mu);
      seen.push_back(writer);
    }
    if (request.path == "/complete") writer->Send(200, {}, "ok");
  });
  ASSERT_NE(server, nullptr);
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.RoundTrip(GetRequest("/complete")));
    TestClient leaving(server->port());
    ASSERT_TRUE(leaving.Send(GetRequest("/leave")));
    ASSERT_TRUE(WaitFor([&] {
      std::lock_guard lock(mu);
      return seen.size() == 2;
    }));
  }
  ASSERT_TRUE(WaitFor([&] { return disconnects.load() == 1; }));
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return seen[0].expired() && seen[1].expired();
  }));
}

TEST(HttpLifecycleTest, ClientThatStopsReadingIsDropped) {
  Parker parker(/*stream=*/true);
  ServerOptions options;
  options.max_buffered_bytes_per_stream = 64 << 10;
  auto server = StartTestServer(parker.handler(), options);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port(), /*receive_buffer=*/4096);
  ASSERT_TRUE(client.Send(GetRequest("/never-read")));
  ASSERT_TRUE(WaitFor([&] { return parker.size() == 1; }));
  auto writer = parker.at(0);
  const std::string chunk(1024, 'z');
  size_t written = 0;
  // Kernel socket buffers absorb some megabytes; after that the server-side bound must hit.
  while (writer->Write(chunk)) {
    written += chunk.size();
    ASSERT_LT(written, 512u << 20) << "the stream buffer bound never triggered";
  }
  EXPECT_TRUE(writer->closed());
  EXPECT_TRUE(writer->disconnected());
  ASSERT_TRUE(WaitFor([&] { return parker.disconnects.load() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server->active_connections() == 0; }));
  EXPECT_TRUE(WaitFor([&] { return server->in_flight() == 0; }));
  EXPECT_EQ(server->stats().clients_dropped, 1);
}

TEST(HttpLifecycleTest, StalledWriteOfAFullResponseTimesOut) {
  ServerOptions options;
  options.write_timeout = std::chrono::seconds(1);
  auto server = StartTestServer(
      [](Request request, std::shared_ptr<ResponseWriter> writer) {
        writer->Send(200, {}, std::string(64 << 20, 'w'));
      },
      options);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port(), /*receive_buffer=*/4096);
  ASSERT_TRUE(client.Send(GetRequest("/huge")));
  ASSERT_TRUE(WaitFor([&] { return server->active_connections() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server->active_connections() == 0; }));
  EXPECT_EQ(server->in_flight(), 0);
  EXPECT_EQ(server->stats().clients_dropped, 1);
}

TEST(HttpLifecycleTest, StopAcceptingKeepsExistingConnections) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  TestClient existing(server->port());
  ASSERT_TRUE(existing.RoundTrip(GetRequest("/before")));
  server->StopAccepting();
  server->StopAccepting();  // idempotent
  TestClient refused(server->port());
  EXPECT_FALSE(refused.connected());
  auto response = existing.RoundTrip(GetRequest("/after"));
  ASSERT_TRUE(response) << existing.error();
  EXPECT_EQ(response->status, 200);
}

TEST(HttpLifecycleTest, ShutdownWaitsForInFlightRequests) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> started{0};
  auto server = StartTestServer([&](Request request, std::shared_ptr<ResponseWriter> writer) {
    if (request.path == "/busy") {
      ++started;
      released.wait();
    }
    writer->Send(200, {}, "finished " + request.path);
  });
  ASSERT_NE(server, nullptr);
  TestClient busy(server->port());
  ASSERT_TRUE(busy.Send(GetRequest("/busy")));
  TestClient idle(server->port());
  ASSERT_TRUE(idle.RoundTrip(GetRequest("/idle")));
  ASSERT_TRUE(WaitFor([&] { return started.load() == 1 && server->in_flight() == 1; }));
  const int port = server->port();
  std::atomic<bool> shutdown_returned{false};
  std::thread shutdown([&] {
    server->Shutdown(std::chrono::seconds(60));
    shutdown_returned = true;
  });
  // New connections are refused and idle ones closed while the busy request still runs.
  ASSERT_TRUE(WaitFor([&] { return !TestClient(port).connected(); }));
  EXPECT_TRUE(idle.WaitClosed());
  EXPECT_FALSE(shutdown_returned.load());
  release.set_value();
  auto response = busy.ReadResponse();
  ASSERT_TRUE(response) << busy.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "finished /busy");
  EXPECT_EQ(response->Header("connection"), "close");
  shutdown.join();
  EXPECT_TRUE(shutdown_returned.load());
  EXPECT_EQ(server->active_connections(), 0);
  EXPECT_EQ(server->in_flight(), 0);
  server->Shutdown(std::chrono::seconds(1));  // idempotent
}

TEST(HttpLifecycleTest, ShutdownCutsOffAfterTheTimeout) {
  Parker parker(/*stream=*/true);
  auto server = StartTestServer(parker.handler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(GetRequest("/endless")));
  ASSERT_TRUE(client.ReadHead());
  ASSERT_TRUE(WaitFor([&] { return parker.size() == 1; }));
  auto writer = parker.at(0);
  ASSERT_TRUE(writer->Write("data: 1\n\n"));
  ASSERT_TRUE(client.ReadChunk());
  server->Shutdown(std::chrono::milliseconds(300));
  EXPECT_EQ(parker.disconnects.load(), 1);
  EXPECT_TRUE(writer->disconnected());
  EXPECT_FALSE(writer->Write("data: 2\n\n"));
  // The client sees the connection end without the terminating chunk.
  EXPECT_FALSE(client.ReadChunk());
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_EQ(server->active_connections(), 0);
  EXPECT_EQ(server->in_flight(), 0);
  // The writer outlives the server.
  server.reset();
  EXPECT_FALSE(writer->Write("data: 3\n\n"));
  writer->End();
}

TEST(HttpLifecycleTest, ShutdownWithQueuedHandlersAndManyClients) {
  std::atomic<int> handled{0};
  ServerOptions options;
  options.handler_threads = 1;
  options.io_threads = 2;
  auto server = StartTestServer(
      [&](Request request, std::shared_ptr<ResponseWriter> writer) {
        ++handled;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        writer->Send(200, {}, "ok");
      },
      options);
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(std::make_unique<TestClient>(server->port()));
    clients.back()->Send(GetRequest("/q"));
  }
  server->Shutdown(std::chrono::milliseconds(0));
  EXPECT_EQ(server->active_connections(), 0);
  EXPECT_EQ(server->in_flight(), 0);
  for (auto& client : clients) EXPECT_TRUE(client->WaitClosed());
}

TEST(HttpLifecycleTest, DestroyingARunningServerIsClean) {
  Parker parker(/*stream=*/true);
  auto server = StartTestServer(parker.handler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(GetRequest("/")));
  ASSERT_TRUE(WaitFor([&] { return parker.size() == 1; }));
  server.reset();
  EXPECT_EQ(parker.disconnects.load(), 1);
  EXPECT_TRUE(client.WaitClosed());
}

}  // namespace
}  // namespace pagellm::http
