// Transport basics: request fields, bodies, keep-alive, pipelining, concurrency, HTTP/1.0, HEAD.
#include <atomic>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "src/server/http/http_testutil.h"
#include "src/server/http/json_error.h"
#include "src/server/http/server.h"

namespace pagellm::http {
namespace {

using testing::EchoHandler;
using testing::GetRequest;
using testing::PostRequest;
using testing::StartTestServer;
using testing::TestClient;
using testing::WaitFor;

TEST(HttpServerTest, GetPassesRequestFields) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->port(), 0);
  TestClient client(server->port());
  ASSERT_TRUE(client.connected()) << client.error();
  auto response = client.RoundTrip(GetRequest("/v1/models?limit=3&x=%20y", "X-Test: hello\r\n"));
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->reason, "OK");
  EXPECT_EQ(response->Header("x-method"), "GET");
  EXPECT_EQ(response->Header("x-target"), "/v1/models?limit=3&x=%20y");
  EXPECT_EQ(response->Header("x-path"), "/v1/models");
  EXPECT_EQ(response->Header("x-test"), "hello");
  EXPECT_EQ(response->Header("x-version"), "11");
  EXPECT_EQ(response->Header("x-remote").rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(response->Header("content-length"), "0");
  EXPECT_FALSE(response->HasHeader("connection"));  // HTTP/1.1 default: persistent
  EXPECT_EQ(response->body, "");
}

TEST(HttpServerTest, PostBodyIsPassedExactly) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  std::string body;
  for (int i = 0; i < 300000; ++i) body.push_back(static_cast<char>(i * 7 + (i >> 8)));
  TestClient client(server->port());
  auto response = client.RoundTrip(PostRequest("/v1/completions", body));
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("x-method"), "POST");
  EXPECT_EQ(response->body.size(), body.size());
  EXPECT_TRUE(response->body == body);
}

TEST(HttpServerTest, RepeatedHeadersAreJoined) {
  std::mutex mu;
  Request seen;
  auto server = StartTestServer([&](Request request, std::shared_ptr<ResponseWriter> writer) {
    {
      std::lock_guard lock(mu);
      seen = request;
    }
    writer->Send(204, {}, "ignored");
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto response = client.RoundTrip(
      GetRequest("/", "Accept: a/b\r\nACCEPT: c/d\r\nX-Mixed-Case: Value\r\n"));
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->status, 204);
  EXPECT_FALSE(response->HasHeader("content-length"));
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.headers["accept"], "a/b, c/d");
  EXPECT_EQ(seen.Header("x-mixed-case"), "Value");
  EXPECT_EQ(seen.Header("host"), "localhost");
  EXPECT_EQ(seen.Header("absent"), "");
}

TEST(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  for (int i = 0; i < 20; ++i) {
    const std::string body = "request " + std::to_string(i);
    auto response = client.RoundTrip(PostRequest("/r" + std::to_string(i), body));
    ASSERT_TRUE(response) << i << ": " << client.error();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, body);
    EXPECT_EQ(response->Header("x-path"), "/r" + std::to_string(i));
  }
  EXPECT_EQ(server->active_connections(), 1);
  EXPECT_TRUE(WaitFor([&] { return server->in_flight() == 0; }));
  const ServerStats stats = server->stats();
  EXPECT_EQ(stats.requests, 20);
  EXPECT_EQ(stats.connections_accepted, 1);
  EXPECT_EQ(stats.active_connections, 1);
  EXPECT_EQ(stats.in_flight, 0);
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrderOneAtATime) {
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  auto server = StartTestServer([&](Request request, std::shared_ptr<ResponseWriter> writer) {
    const int now = ++running;
    int prev = max_running.load();
    while (prev < now && !max_running.compare_exchange_weak(prev, now)) {
    }
    // Earlier requests take longer: out-of-order completion would show up as reordering.
    const int index = std::stoi(request.path.substr(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(5 * (5 - index)));
    --running;
    writer->Send(200, {}, request.path + ":" + request.body);
  });
  ASSERT_NE(server, nullptr);
  std::string batch;
  for (int i = 0; i < 5; ++i) {
    batch += PostRequest("/p" + std::to_string(i), "body" + std::to_string(i));
  }
  batch += GetRequest("/p5");
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(batch));
  for (int i = 0; i < 6; ++i) {
    auto response = client.ReadResponse();
    ASSERT_TRUE(response) << i << ": " << client.error();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "/p" + std::to_string(i) + ":" + (i < 5 ? "body" + std::to_string(i) : ""));
  }
  EXPECT_EQ(max_running.load(), 1);  // one connection never runs two handlers at once
}

TEST(HttpServerTest, BytesArrivingWhilePipelinedRequestsAreHandled) {
  // req1 and req2 arrive together; req3 arrives while req2 is being handled, i.e. into a read
  // that was pending while the buffered req2 was parsed.
  std::mutex mu;
  std::vector<std::pair<std::string, std::shared_ptr<ResponseWriter>>> parked;
  auto server = StartTestServer([&](Request request, std::shared_ptr<ResponseWriter> writer) {
    std::lock_guard lock(mu);
    parked.emplace_back(request.path + ":" + request.body, std::move(writer));
  });
  ASSERT_NE(server, nullptr);
  const auto num_parked = [&] {
    std::lock_guard lock(mu);
    return parked.size();
  };
  const auto respond = [&](size_t i) {
    std::lock_guard lock(mu);
    parked[i].second->Send(200, {}, parked[i].first);
  };
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(PostRequest("/1", "one") + PostRequest("/2", "two")));
  ASSERT_TRUE(WaitFor([&] { return num_parked() == 1; }));
  respond(0);
  ASSERT_TRUE(WaitFor([&] { return num_parked() == 2; }));
  ASSERT_TRUE(client.Send(PostRequest("/3", "three")));
  respond(1);
  ASSERT_TRUE(WaitFor([&] { return num_parked() == 3; }));
  respond(2);
  for (const char* expected : {"/1:one", "/2:two", "/3:three"}) {
    auto response = client.ReadResponse();
    ASSERT_TRUE(response) << client.error();
    EXPECT_EQ(response->body, expected);
  }
}

TEST(HttpServerTest, TwoHundredConcurrentClients) {
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  ServerOptions options;
  options.io_threads = 2;
  options.handler_threads = 4;
  auto server = StartTestServer(
      [&](Request request, std::shared_ptr<ResponseWriter> writer) {
        const int now = ++running;
        int prev = max_running.load();
        while (prev < now && !max_running.compare_exchange_weak(prev, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        --running;
        writer->Send(200, {{"Content-Type", "text/plain"}}, "hello " + request.path);
      },
      options);
  ASSERT_NE(server, nullptr);
  constexpr int kClients = 200;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<TestClient>(server->port()));
    ASSERT_TRUE(clients.back()->connected()) << clients.back()->error();
    ASSERT_TRUE(clients.back()->Send(GetRequest("/c" + std::to_string(i))));
  }
  EXPECT_TRUE(WaitFor([&] { return server->active_connections() == kClients; }));
  for (int i = 0; i < kClients; ++i) {
    auto response = clients[i]->ReadResponse();
    ASSERT_TRUE(response) << i << ": " << clients[i]->error();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "hello /c" + std::to_string(i));
  }
  EXPECT_GE(max_running.load(), 2);  // handlers ran on the pool in parallel
  EXPECT_LE(max_running.load(), options.handler_threads);
  clients.clear();
  EXPECT_TRUE(WaitFor([&] { return server->active_connections() == 0; }));
}

TEST(HttpServerTest, HeadGetsHeadersWithoutBody) {
  auto server = StartTestServer([](Request request, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(200, {{"Content-Type", "text/plain"}}, "twelve bytes");
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto head = client.RoundTrip("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(head) << client.error();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), "12");
  // No body bytes followed: the next response on the connection parses cleanly.
  auto get = client.RoundTrip(GetRequest("/"));
  ASSERT_TRUE(get) << client.error();
  EXPECT_EQ(get->body, "twelve bytes");
}

TEST(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  {
    TestClient client(server->port());
    auto response = client.RoundTrip("GET /old HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(response) << client.error();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->Header("x-version"), "10");
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_TRUE(client.WaitClosed());
  }
  TestClient client(server->port());
  for (int i = 0; i < 3; ++i) {
    auto response = client.RoundTrip("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ASSERT_TRUE(response) << client.error();
    EXPECT_EQ(response->Header("connection"), "keep-alive");
  }
}

TEST(HttpServerTest, ConnectionCloseIsHonoured) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto response = client.RoundTrip(GetRequest("/", "Connection: close\r\n"));
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server->active_connections() == 0; }));
}

TEST(HttpServerTest, HandlerMayRespondLaterFromAnotherThread) {
  std::mutex mu;
  std::vector<std::shared_ptr<ResponseWriter>> parked;
  auto server = StartTestServer([&](Request request, std::shared_ptr<ResponseWriter> writer) {
    std::lock_guard lock(mu);
    parked.push_back(std::move(writer));
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(GetRequest("/later")));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return parked.size() == 1;
  }));
  EXPECT_EQ(server->in_flight(), 1);
  EXPECT_FALSE(client.WaitReadable(std::chrono::milliseconds(0)));
  std::thread([&] {
    std::lock_guard lock(mu);
    parked[0]->Send(201, {{"X-Late", "yes"}}, "done");
  }).join();
  auto response = client.ReadResponse();
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->Header("x-late"), "yes");
  EXPECT_EQ(response->body, "done");
  EXPECT_TRUE(WaitFor([&] { return server->in_flight() == 0; }));
  std::lock_guard lock(mu);
  EXPECT_TRUE(parked[0]->closed());
  EXPECT_FALSE(parked[0]->disconnected());
}

TEST(HttpServerTest, HandlerThatThrowsOrForgetsGets500) {
  auto server = StartTestServer([](Request request, std::shared_ptr<ResponseWriter> writer) {
    if (request.path == "/throw") throw std::runtime_error("boom");
    if (request.path == "/forget") return;  // drops the writer without a response
    writer->Send(200, {}, "fine");
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  for (const char* path : {"/throw", "/forget", "/ok", "/forget", "/ok"}) {
    auto response = client.RoundTrip(GetRequest(path));
    ASSERT_TRUE(response) << path << ": " << client.error();
    if (std::string_view(path) == "/ok") {
      EXPECT_EQ(response->status, 200);
    } else {
      EXPECT_EQ(response->status, 500) << path;
      EXPECT_EQ(response->Header("content-type"), "application/json");
      EXPECT_NE(response->body.find("\"type\": \"server_error\""), std::string::npos);
    }
  }
}

TEST(HttpServerTest, HandlerHeadersAreSanitized) {
  auto server = StartTestServer([](Request request, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(200,
                 {{"Content-Length", "999"},
                  {"Transfer-Encoding", "chunked"},
                  {"X-Injected", "a\r\nSet-Cookie: evil=1"},
                  {"Bad Name", "x"},
                  {"X-Good", "kept"}},
                 "abc");
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto response = client.RoundTrip(GetRequest("/"));
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->Header("content-length"), "3");
  EXPECT_FALSE(response->HasHeader("transfer-encoding"));
  EXPECT_FALSE(response->HasHeader("x-injected"));
  EXPECT_FALSE(response->HasHeader("set-cookie"));
  EXPECT_EQ(response->Header("x-good"), "kept");
  EXPECT_EQ(response->body, "abc");
  EXPECT_EQ(client.RoundTrip(GetRequest("/"))->status, 200);  // framing intact
}

TEST(HttpServerTest, ExpectContinueInvitesTheBody) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(
      "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = client.ReadResponse();
  ASSERT_TRUE(interim) << client.error();
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.Send("hello"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
}

TEST(HttpServerTest, ChunkedRequestBodyInPieces) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(client.Send("5\r\nhello\r\n"));
  ASSERT_TRUE(client.Send("1;ext=1\r\n"));
  ASSERT_TRUE(client.Send(" \r\nA\r\n"));
  ASSERT_TRUE(client.Send("0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello 0123456789");
  EXPECT_EQ(client.RoundTrip(GetRequest("/after"))->Header("x-path"), "/after");
}

TEST(HttpServerTest, EmptyLinesBeforeARequestAreIgnored) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto response = client.RoundTrip("\r\n\r\n" + GetRequest("/x"));
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->Header("x-path"), "/x");
}

TEST(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions options;
  options.keep_alive_timeout = std::chrono::seconds(1);
  auto server = StartTestServer(EchoHandler(), options);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.RoundTrip(GetRequest("/")));
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server->active_connections() == 0; }));
}

TEST(HttpServerTest, StartReportsErrors) {
  auto first = StartTestServer(EchoHandler());
  ASSERT_NE(first, nullptr);
  ServerOptions options;
  options.port = first->port();
  auto in_use = Server::Start(options, EchoHandler());
  EXPECT_FALSE(in_use.ok());
  EXPECT_NE(std::string(in_use.status().message()).find("cannot listen"), std::string::npos)
      << in_use.status();
  options.port = 70000;
  EXPECT_EQ(Server::Start(options, EchoHandler()).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.port = 0;
  options.io_threads = 0;
  EXPECT_FALSE(Server::Start(options, EchoHandler()).ok());
  options.io_threads = 1;
  EXPECT_FALSE(Server::Start(options, nullptr).ok());
  options.host = "no-such-host.invalid";
  EXPECT_FALSE(Server::Start(options, EchoHandler()).ok());
  options.host = "localhost";
  auto by_name = Server::Start(options, EchoHandler());
  ASSERT_TRUE(by_name.ok()) << by_name.status();
}

TEST(HttpServerTest, JsonErrorBodyShape) {
  EXPECT_EQ(JsonErrorBody(400, "bad \"x\"\n\x01", "bad_request"),
            "{\"error\": {\"message\": \"bad \\\"x\\\"\\n\\u0001\", \"type\": "
            "\"invalid_request_error\", \"param\": null, \"code\": \"bad_request\"}}");
  EXPECT_EQ(JsonErrorBody(503, "busy"),
            "{\"error\": {\"message\": \"busy\", \"type\": \"server_error\", \"param\": null, "
            "\"code\": null}}");
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(ReasonPhrase(799), "Unknown");
}

}  // namespace
}  // namespace pagellm::http
