// Test helpers for the HTTP transport: a raw-socket client with a strict response reader.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/server/http/server.h"

namespace pagellm::http::testing {

using Duration = std::chrono::milliseconds;
inline constexpr Duration kDefaultTimeout{20000};

struct ClientResponse {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;
  bool chunked = false;
  std::vector<std::string> chunks;  // the chunks of a chunked body, in order

  std::string Header(std::string_view lower_case_name) const;  // "" if absent
  bool HasHeader(std::string_view lower_case_name) const;
};

// A blocking loopback client. Every read has a deadline; reads never hang a test.
class TestClient {
 public:
  // Connects to 127.0.0.1:port. receive_buffer > 0 sets SO_RCVBUF before connecting.
  explicit TestClient(int port, int receive_buffer = 0);
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return fd_ >= 0 && connected_; }
  const std::string& error() const { return error_; }  // what the last failure was

  // Sends all bytes; false if the connection failed (or a 20 s send timeout passed).
  bool Send(std::string_view bytes);

  // Reads a status line and headers (no body).
  std::optional<ClientResponse> ReadHead(Duration timeout = kDefaultTimeout);
  // Reads the next chunk of a chunked body: its data, "" for the last chunk (trailers are
  // consumed), nullopt on malformed framing, EOF or timeout.
  std::optional<std::string> ReadChunk(Duration timeout = kDefaultTimeout);
  // Reads a whole response: head, then the body by Content-Length, chunked framing or up to
  // EOF. 1xx responses are returned on their own (call again for the final one).
  std::optional<ClientResponse> ReadResponse(Duration timeout = kDefaultTimeout,
                                             bool head_request = false);
  // Send(request) + ReadResponse().
  std::optional<ClientResponse> RoundTrip(std::string_view request,
                                          Duration timeout = kDefaultTimeout);

  // True once the server closes the connection (EOF or reset) within `timeout`; the bytes
  // that arrive meanwhile are discarded.
  bool WaitClosed(Duration timeout = kDefaultTimeout);
  // True if the server has closed (EOF/reset seen) and no unread byte remains; doesn't wait.
  bool PeerClosedNow();
  // True if some bytes (or EOF) can be read within `timeout`.
  bool WaitReadable(Duration timeout);

  void ShutdownWrite();
  void Close();  // orderly close (FIN)
  void Reset();  // abortive close (RST)

 private:
  // Reads more bytes into buf_; false on EOF, error or deadline.
  bool Fill(std::chrono::steady_clock::time_point deadline);
  // Reads through the next CRLF; the line without it.
  std::optional<std::string> ReadLine(std::chrono::steady_clock::time_point deadline);
  bool ReadExactly(size_t n, std::string* out, std::chrono::steady_clock::time_point deadline);
  std::optional<std::string> ReadChunkUntil(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buf_;  // received bytes from pos_ on are unread
  size_t pos_ = 0;
  std::string error_;
};

std::string GetRequest(std::string_view target, std::string_view extra_headers = "");
std::string PostRequest(std::string_view target, std::string_view body,
                        std::string_view extra_headers = "");

// Polls `cond` every few milliseconds until it holds or `timeout` passes; its last value.
bool WaitFor(const std::function<bool()>& cond, Duration timeout = kDefaultTimeout);

// Starts a server on 127.0.0.1, any free port; nullptr (and a test failure) on error.
std::unique_ptr<Server> StartTestServer(Handler handler, ServerOptions options = {});

// A handler answering 200 with a JSON echo: method, target, path, body size, and headers.
Handler EchoHandler();

}  // namespace pagellm::http::testing
