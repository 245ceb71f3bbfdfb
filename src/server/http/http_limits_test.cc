// Transport limits: malformed requests, body/header limits, slow clients, connection bound.
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "src/server/http/http_testutil.h"
#include "src/server/http/server.h"

namespace pagellm::http {
namespace {

using testing::ClientResponse;
using testing::EchoHandler;
using testing::GetRequest;
using testing::PostRequest;
using testing::StartTestServer;
using testing::TestClient;
using testing::WaitFor;

// An error answer in OpenAI's JSON shape that closes the connection.
void ExpectJsonError(const ClientResponse& response, int status) {
  EXPECT_EQ(response.status, status) << response.body;
  EXPECT_EQ(response.Header("content-type"), "application/json");
  EXPECT_EQ(response.Header("connection"), "close");
  EXPECT_EQ(response.body.rfind("{\"error\": {\"message\": \"", 0), 0u) << response.body;
  EXPECT_NE(response.body.find(status >= 500 ? "\"type\": \"server_error\""
                                             : "\"type\": \"invalid_request_error\""),
            std::string::npos)
      << response.body;
  EXPECT_NE(response.body.find("\"param\": null"), std::string::npos);
}

// The server still answers a normal request on a new connection.
void ExpectStillServing(const Server& server) {
  TestClient client(server.port());
  auto response = client.RoundTrip(PostRequest("/alive", "{}"));
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "{}");
}

struct MalformedCase {
  const char* name;
  std::string bytes;
  int status;
};

TEST(HttpLimitsTest, MalformedRequestsGetTheRightStatus) {
  ServerOptions options;
  options.max_header_bytes = 4096;
  auto server = StartTestServer(EchoHandler(), options);
  ASSERT_NE(server, nullptr);
  const std::string host = "Host: x\r\n";
  const std::vector<MalformedCase> cases = {
      {"garbage", std::string("\x00\x01\x02\xff\xfe garbage\r\n\r\n", 18), 400},
      {"method only", "GET\r\n\r\n", 400},
      {"bad version token", "GET / HTTX/1.1\r\n\r\n", 400},
      {"bad method char", "G(T / HTTP/1.1\r\n\r\n", 400},
      {"double space", "GET  / HTTP/1.1\r\n\r\n", 400},
      {"missing target", "GET HTTP/1.1\r\n\r\n", 400},
      {"header without colon", "GET / HTTP/1.1\r\n" + host + "NoColon\r\n\r\n", 400},
      {"bare LF", "GET / HTTP/1.1\n" + host + "\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
      {"NUL in a header value", std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26), 400},
      {"control char in target", "GET /a\x01b HTTP/1.1\r\n" + host + "\r\n", 400},
      {"non-numeric length", "POST / HTTP/1.1\r\n" + host + "Content-Length: abc\r\n\r\n", 400},
      {"negative length", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400},
      {"overflowing length",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999999\r\n\r\n", 400},
      {"conflicting lengths",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400},
      {"length and chunked",
       "POST / HTTP/1.1\r\n" + host +
           "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
       400},
      {"unsupported transfer coding",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", 400},
      {"bad chunk size", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
       400},
      {"chunk without CRLF",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
       400},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {"unknown expectation", "GET / HTTP/1.1\r\n" + host + "Expect: teapot\r\n\r\n", 417},
      {"huge header", "GET / HTTP/1.1\r\n" + host + "X-Big: " + std::string(5000, 'a') + "\r\n\r\n",
       431},
      {"many headers", "GET / HTTP/1.1\r\n" + [] {
         std::string s;
         for (int i = 0; i < 400; ++i) s += "X-H" + std::to_string(i) + ": v\r\n";
         return s;
       }() + "\r\n",
       431},
      {"huge request line", "GET /" + std::string(5000, 'p') + " HTTP/1.1\r\n\r\n", 431},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(c.bytes));
    auto response = client.ReadResponse();
    ASSERT_TRUE(response) << client.error();
    ExpectJsonError(*response, c.status);
    EXPECT_TRUE(client.WaitClosed());
    ExpectStillServing(*server);
  }
  EXPECT_TRUE(WaitFor([&] { return server->active_connections() == 0; }));
  const ServerStats stats = server->stats();
  EXPECT_EQ(stats.transport_errors, static_cast<int64_t>(cases.size()));
  EXPECT_EQ(stats.requests, static_cast<int64_t>(cases.size()));  // the ExpectStillServing ones
  EXPECT_EQ(stats.connections_accepted, 2 * static_cast<int64_t>(cases.size()));
  EXPECT_EQ(stats.connections_rejected, 0);
}

TEST(HttpLimitsTest, MalformedRequestAfterAGoodOneOnTheSameConnection) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(GetRequest("/good") + "BAD REQUEST LINE\r\n\r\n"));
  auto good = client.ReadResponse();
  ASSERT_TRUE(good) << client.error();
  EXPECT_EQ(good->status, 200);
  auto bad = client.ReadResponse();
  ASSERT_TRUE(bad) << client.error();
  ExpectJsonError(*bad, 400);
  EXPECT_TRUE(client.WaitClosed());
}

TEST(HttpLimitsTest, RandomBytesNeverHurtTheServer) {
  ServerOptions options;
  options.read_timeout = std::chrono::seconds(2);
  options.keep_alive_timeout = std::chrono::seconds(2);
  auto server = StartTestServer(EchoHandler(), options);
  ASSERT_NE(server, nullptr);
  std::mt19937 rng(1234);
  const std::string prefixes[] = {"", "GET / HTTP/1.1\r\n", "POST / HTTP/1.1\r\nContent-Length: 3\r\n",
                                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"};
  for (int i = 0; i < 60; ++i) {
    std::string bytes = prefixes[i % 4];
    const int n = 1 + static_cast<int>(rng() % 300);
    for (int j = 0; j < n; ++j) bytes.push_back(static_cast<char>(rng() & 0xff));
    bytes += "\r\n\r\n";
    TestClient client(server->port());
    client.Send(bytes);  // may fail if the server already answered and closed
    // Whatever the bytes, the server answers (error, 408, or 200 if they happened to parse) and
    // closes within its read and keep-alive timeouts.
    while (auto response = client.ReadResponse(std::chrono::seconds(5))) {
      EXPECT_TRUE(response->status == 200 || response->status >= 400) << response->status;
    }
    EXPECT_TRUE(client.WaitClosed()) << i;
  }
  ExpectStillServing(*server);
}

TEST(HttpLimitsTest, BodyLimitWithContentLength) {
  ServerOptions options;
  options.max_body_bytes = 1 << 20;
  auto server = StartTestServer(EchoHandler(), options);
  ASSERT_NE(server, nullptr);
  {
    SCOPED_TRACE("exactly at the limit");
    TestClient client(server->port());
    const std::string body(options.max_body_bytes, 'b');
    auto response = client.RoundTrip(PostRequest("/big", body));
    ASSERT_TRUE(response) << client.error();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body.size(), body.size());
  }
  {
    SCOPED_TRACE("one byte over: 413 as soon as the header is in, before any body byte");
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(StrCat("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ",
                                   options.max_body_bytes + 1, "\r\n\r\n")));
    auto response = client.ReadResponse();
    ASSERT_TRUE(response) << client.error();
    ExpectJsonError(*response, 413);
    EXPECT_NE(response->body.find("request_too_large"), std::string::npos);
    EXPECT_TRUE(client.WaitClosed());
  }
  {
    SCOPED_TRACE("huge length, body sent anyway: the 413 still reaches the client");
    TestClient client(server->port());
    const std::string body(4 << 20, 'x');
    client.Send(PostRequest("/big", body));  // may be cut off once the server has closed
    auto response = client.ReadResponse();
    ASSERT_TRUE(response) << client.error();
    ExpectJsonError(*response, 413);
  }
  ExpectStillServing(*server);
}

TEST(HttpLimitsTest, BodyLimitWithChunkedBody) {
  ServerOptions options;
  options.max_body_bytes = 256 << 10;
  auto server = StartTestServer(EchoHandler(), options);
  ASSERT_NE(server, nullptr);
  const std::string head = "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(4096, 'c');
  const std::string framed = "1000\r\n" + chunk + "\r\n";
  {
    SCOPED_TRACE("at the limit");
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(head));
    for (size_t sent = 0; sent < options.max_body_bytes; sent += chunk.size()) {
      ASSERT_TRUE(client.Send(framed));
    }
    ASSERT_TRUE(client.Send("0\r\n\r\n"));
    auto response = client.ReadResponse();
    ASSERT_TRUE(response) << client.error();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body.size(), options.max_body_bytes);
  }
  {
    SCOPED_TRACE("over the limit: 413 while the body is still arriving");
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(head));
    size_t sent = 0;
    while (!client.WaitReadable(std::chrono::milliseconds(0)) && sent < (64u << 20)) {
      if (!client.Send(framed)) break;
      sent += chunk.size();
    }
    EXPECT_GT(sent, options.max_body_bytes);
    EXPECT_LT(sent, 64u << 20);
    auto response = client.ReadResponse();
    ASSERT_TRUE(response) << client.error();
    ExpectJsonError(*response, 413);
  }
  ExpectStillServing(*server);
}

TEST(HttpLimitsTest, HeaderLimit) {
  ServerOptions options;
  options.max_header_bytes = 8192;
  auto server = StartTestServer(EchoHandler(), options);
  ASSERT_NE(server, nullptr);
  const auto request_with_header_bytes = [](size_t total) {
    std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    head += std::string(total - head.size() - 4, 'p');
    head += "\r\n\r\n";
    return head;
  };
  TestClient client(server->port());
  auto ok = client.RoundTrip(request_with_header_bytes(8000));
  ASSERT_TRUE(ok) << client.error();
  EXPECT_EQ(ok->status, 200);
  auto too_big = client.RoundTrip(request_with_header_bytes(8400));
  ASSERT_TRUE(too_big) << client.error();
  ExpectJsonError(*too_big, 431);
  ExpectStillServing(*server);
}

TEST(HttpLimitsTest, DefaultHeaderLimitIs64KiB) {
  auto server = StartTestServer(EchoHandler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto response = client.RoundTrip(GetRequest("/", "X-Big: " + std::string(70 << 10, 'h') + "\r\n"));
  ASSERT_TRUE(response) << client.error();
  ExpectJsonError(*response, 431);
}

// Sends `bytes` one at a time, `delay` apart, until the server answers or closes; returns how
// many were sent.
size_t Trickle(TestClient& client, std::string_view bytes, std::chrono::milliseconds delay) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    if (client.WaitReadable(delay)) break;
    if (!client.Send(bytes.substr(sent, 1))) break;
    ++sent;
  }
  return sent;
}

TEST(HttpLimitsTest, SlowHeaderClientIsCutOff) {
  ServerOptions options;
  options.read_timeout = std::chrono::seconds(1);
  auto server = StartTestServer(EchoHandler(), options);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  // 200 bytes at 10 bytes/s would take 20 s; the read timeout ends it long before.
  const std::string request = GetRequest("/slow", "X-Pad: " + std::string(150, 'p') + "\r\n");
  const size_t sent = Trickle(client, request, std::chrono::milliseconds(100));
  EXPECT_LT(sent, request.size());
  auto response = client.ReadResponse();
  ASSERT_TRUE(response) << client.error();
  ExpectJsonError(*response, 408);
  EXPECT_TRUE(client.WaitClosed());
  ExpectStillServing(*server);
}

TEST(HttpLimitsTest, SlowBodyClientIsCutOff) {
  ServerOptions options;
  options.read_timeout = std::chrono::seconds(1);
  auto server = StartTestServer(EchoHandler(), options);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n"));
  const size_t sent = Trickle(client, std::string(200, 'b'), std::chrono::milliseconds(100));
  EXPECT_LT(sent, 200u);
  auto response = client.ReadResponse();
  ASSERT_TRUE(response) << client.error();
  ExpectJsonError(*response, 408);
  ExpectStillServing(*server);
}

TEST(HttpLimitsTest, SilentConnectionIsClosed) {
  ServerOptions options;
  options.read_timeout = std::chrono::seconds(1);
  auto server = StartTestServer(EchoHandler(), options);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server->active_connections() == 0; }));
}

TEST(HttpLimitsTest, ConnectionsBeyondTheLimitGet503) {
  ServerOptions options;
  options.max_connections = 3;
  auto server = StartTestServer(EchoHandler(), options);
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<TestClient>(server->port()));
    ASSERT_TRUE(held.back()->RoundTrip(GetRequest("/held")));
  }
  ASSERT_TRUE(WaitFor([&] { return server->active_connections() == 3; }));
  for (int i = 0; i < 5; ++i) {
    TestClient extra(server->port());
    auto response = extra.RoundTrip(GetRequest("/extra"));
    ASSERT_TRUE(response) << extra.error();
    ExpectJsonError(*response, 503);
    EXPECT_EQ(response->Header("retry-after"), "1");
    EXPECT_TRUE(extra.WaitClosed());
  }
  EXPECT_EQ(server->active_connections(), 3);
  EXPECT_EQ(server->stats().connections_rejected, 5);
  EXPECT_EQ(server->stats().transport_errors, 0);
  // The held connections are unaffected, and a freed slot is usable again.
  EXPECT_EQ(held[0]->RoundTrip(GetRequest("/again"))->status, 200);
  held.pop_back();
  ASSERT_TRUE(WaitFor([&] { return server->active_connections() == 2; }));
  TestClient next(server->port());
  auto response = next.RoundTrip(GetRequest("/next"));
  ASSERT_TRUE(response) << next.error();
  EXPECT_EQ(response->status, 200);
}

}  // namespace
}  // namespace pagellm::http
