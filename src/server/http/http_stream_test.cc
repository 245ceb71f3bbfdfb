// Streaming responses: prompt chunk delivery, chunked framing (checked with Beast's parser),
// many concurrent streams, HTTP/1.0 streams, misuse of the writer.
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "gtest/gtest.h"
#include "src/server/http/http_testutil.h"
#include "src/server/http/server.h"

namespace pagellm::http {
namespace {

using testing::GetRequest;
using testing::StartTestServer;
using testing::TestClient;
using testing::WaitFor;

const HeaderList kSseHeaders = {{"Content-Type", "text/event-stream"},
                                {"Cache-Control", "no-cache"}};

// Collects the writers of requests whose handler starts a stream and returns.
class StreamCollector {
 public:
  Handler handler() {
    return [this](Request request, std::shared_ptr<ResponseWriter> writer) {
      writer->StartStream(200, kSseHeaders);
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
  void clear() {
    std::lock_guard lock(mu_);
    writers_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<ResponseWriter>> writers_;
};

TEST(HttpStreamTest, EachChunkArrivesBeforeTheNextIsWritten) {
  StreamCollector streams;
  auto server = StartTestServer(streams.handler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(GetRequest("/v1/chat/completions")));
  auto head = client.ReadHead();
  ASSERT_TRUE(head) << client.error();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-type"), "text/event-stream");
  EXPECT_EQ(head->Header("transfer-encoding"), "chunked");
  EXPECT_FALSE(head->HasHeader("content-length"));
  ASSERT_TRUE(WaitFor([&] { return streams.size() == 1; }));
  auto writer = streams.at(0);
  for (int i = 0; i < 20; ++i) {
    const std::string event = "data: {\"token\": " + std::to_string(i) + "}\n\n";
    ASSERT_TRUE(writer->Write(event));
    // Nothing else is written until the client has this chunk: it was flushed on its own.
    auto chunk = client.ReadChunk();
    ASSERT_TRUE(chunk) << i << ": " << client.error();
    EXPECT_EQ(*chunk, event);
  }
  EXPECT_TRUE(writer->Write(""));  // sends nothing (an empty chunk would end the stream)
  ASSERT_TRUE(writer->Write("data: [DONE]\n\n"));
  writer->End();
  EXPECT_TRUE(writer->closed());
  EXPECT_FALSE(writer->disconnected());
  EXPECT_FALSE(writer->Write("late"));
  auto last = client.ReadChunk();
  ASSERT_TRUE(last) << client.error();
  EXPECT_EQ(*last, "data: [DONE]\n\n");
  auto terminator = client.ReadChunk();
  ASSERT_TRUE(terminator) << client.error();
  EXPECT_EQ(*terminator, "");  // the zero-length last chunk
  EXPECT_TRUE(WaitFor([&] { return server->in_flight() == 0; }));
  // The connection is clean for the next request.
  ASSERT_TRUE(client.Send(GetRequest("/next")));
  auto next = client.ReadHead();
  ASSERT_TRUE(next) << client.error();
  EXPECT_EQ(next->status, 200);
}

TEST(HttpStreamTest, ChunkedFramingParsesWithBeast) {
  auto server = StartTestServer([](Request request, std::shared_ptr<ResponseWriter> writer) {
    writer->StartStream(200, kSseHeaders);
    for (int i = 0; i < 300; ++i) {
      writer->Write("data: " + std::string(static_cast<size_t>(i % 37), 'x') + "\n\n");
    }
    writer->End();
  });
  ASSERT_NE(server, nullptr);
  std::string expected;
  for (int i = 0; i < 300; ++i) {
    expected += "data: " + std::string(static_cast<size_t>(i % 37), 'x') + "\n\n";
  }
  namespace beast = boost::beast;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"),
                  static_cast<uint16_t>(server->port())},
                 ec);
  ASSERT_FALSE(ec) << ec.message();
  for (int round = 0; round < 3; ++round) {
    beast::http::request<beast::http::string_body> request{beast::http::verb::post, "/stream", 11};
    request.set(beast::http::field::host, "localhost");
    request.body() = "{}";
    request.prepare_payload();
    beast::http::write(socket, request, ec);
    ASSERT_FALSE(ec) << ec.message();
    beast::flat_buffer buffer;
    beast::http::response<beast::http::string_body> response;
    beast::http::read(socket, buffer, response, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(response.result_int(), 200);
    EXPECT_TRUE(response.chunked());
    EXPECT_TRUE(response.keep_alive());
    EXPECT_EQ(response.body(), expected);
  }
}

TEST(HttpStreamTest, ManyConcurrentStreams) {
  StreamCollector streams;
  ServerOptions options;
  options.io_threads = 2;
  auto server = StartTestServer(streams.handler(), options);
  ASSERT_NE(server, nullptr);
  constexpr int kStreams = 150;
  constexpr int kTokens = 30;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < kStreams; ++i) {
    clients.push_back(std::make_unique<TestClient>(server->port()));
    ASSERT_TRUE(clients.back()->Send(GetRequest("/s" + std::to_string(i))));
  }
  ASSERT_TRUE(WaitFor([&] { return streams.size() == kStreams; }));
  EXPECT_EQ(server->in_flight(), kStreams);
  // One "engine" thread feeds every stream a token per step, like a batched decode loop.
  std::thread engine([&] {
    for (int t = 0; t < kTokens; ++t) {
      for (int s = 0; s < kStreams; ++s) {
        streams.at(s)->Write("data: " + std::to_string(s) + "." + std::to_string(t) + "\n\n");
      }
    }
    for (int s = 0; s < kStreams; ++s) streams.at(s)->End();
  });
  // Map each collected writer back to its client through the first chunk's content.
  int ok = 0;
  for (int c = 0; c < kStreams; ++c) {
    auto response = clients[c]->ReadResponse();
    ASSERT_TRUE(response) << c << ": " << clients[c]->error();
    ASSERT_EQ(response->chunks.size(), static_cast<size_t>(kTokens));
    const std::string& first = response->chunks[0];
    const std::string stream_id = first.substr(6, first.find('.') - 6);
    for (int t = 0; t < kTokens; ++t) {
      EXPECT_EQ(response->chunks[t], "data: " + stream_id + "." + std::to_string(t) + "\n\n");
    }
    ++ok;
  }
  engine.join();
  EXPECT_EQ(ok, kStreams);
  EXPECT_TRUE(WaitFor([&] { return server->in_flight() == 0; }));
}

TEST(HttpStreamTest, Http10StreamIsCloseDelimited) {
  auto server = StartTestServer([](Request request, std::shared_ptr<ResponseWriter> writer) {
    writer->StartStream(200, kSseHeaders);
    writer->Write("data: a\n\n");
    writer->Write("data: b\n\n");
    writer->End();
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto response = client.RoundTrip("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(response) << client.error();
  EXPECT_FALSE(response->HasHeader("transfer-encoding"));
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_EQ(response->body, "data: a\n\ndata: b\n\n");
}

TEST(HttpStreamTest, HeadStreamSendsHeadersOnly) {
  // Only the first request's Write is checked: the client is certainly still there then (its second
  // request waits for the first response to end), while the second handler may write after the
  // test's client has already read the headers and hung up (then Write rightly says false).
  std::promise<bool> first_write;
  std::atomic<int> calls{0};
  auto server = StartTestServer([&](Request request, std::shared_ptr<ResponseWriter> writer) {
    writer->StartStream(200, kSseHeaders);
    const bool ok = writer->Write("data: a\n\n");
    if (calls.fetch_add(1) == 0) first_write.set_value(ok);
    writer->End();
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto head = client.RoundTrip("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(head) << client.error();
  EXPECT_EQ(head->status, 200);
  // No body bytes were sent: the next response on the same connection parses cleanly.
  auto again = client.RoundTrip("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(again) << client.error();
  EXPECT_EQ(again->status, 200);
  EXPECT_TRUE(first_write.get_future().get());
}

TEST(HttpStreamTest, WriterMisuseIsIgnored) {
  std::promise<std::vector<bool>> results;
  auto server = StartTestServer([&](Request request, std::shared_ptr<ResponseWriter> writer) {
    std::vector<bool> r;
    r.push_back(writer->Write("before start"));  // false: no stream yet
    writer->End();                               // ignored: no stream
    writer->StartStream(200, kSseHeaders);
    writer->StartStream(500, {});                // ignored
    writer->Send(500, {}, "ignored");            // ignored
    r.push_back(writer->Write("x"));
    writer->End();
    writer->End();  // ignored
    r.push_back(writer->Write("after end"));  // false
    results.set_value(r);
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto response = client.RoundTrip(GetRequest("/"));
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "x");
  EXPECT_EQ(results.get_future().get(), (std::vector<bool>{false, true, false}));
}

TEST(HttpStreamTest, AbandonedStreamIsEnded) {
  auto server = StartTestServer([](Request request, std::shared_ptr<ResponseWriter> writer) {
    writer->StartStream(200, kSseHeaders);
    writer->Write("data: partial\n\n");
    // The writer is dropped here without End().
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto response = client.RoundTrip(GetRequest("/"));
  ASSERT_TRUE(response) << client.error();
  EXPECT_EQ(response->body, "data: partial\n\n");
  EXPECT_EQ(client.RoundTrip(GetRequest("/"))->status, 200);
}

}  // namespace
}  // namespace pagellm::http
