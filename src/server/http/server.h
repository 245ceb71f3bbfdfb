// HTTP/1.1 transport of the OpenAI-compatible server: Request, ResponseWriter, Server, limits.
//
// Threads: `io_threads` run Boost.Asio (each connection on its own strand); handlers run on a
// separate pool of `handler_threads`. A connection handles one request at a time (pipelined
// requests wait in its bounded read buffer), so at most `max_connections` handler tasks are ever
// queued. While a request is being handled a read stays pending on the socket, so a client that
// goes away (FIN or RST) is noticed at once and OnDisconnect runs. As in Go's net/http and
// uvicorn, a client that half-closes (shutdown(SHUT_WR)) before its response is complete counts
// as gone. (If a client pipelines more than ~max_header_bytes + 64 KiB behind a request being
// handled, reading pauses and a disconnect is only seen when a write fails.)
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/base/status.h"

namespace pagellm::http {

namespace internal {
class ResponseState;
class ServerCore;
}  // namespace internal

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ... as sent (methods are case-sensitive)
  std::string target;  // path + query as sent
  std::string path;    // target without the query
  absl::flat_hash_map<std::string, std::string> headers;  // lower-case names; repeats joined ", "
  std::string body;
  std::string remote;  // "ip:port" of the client
  int version = 11;    // 10 or 11 (HTTP/1.0 or HTTP/1.1)

  // The value of header `lower_case_name`, or "" when absent.
  std::string_view Header(const std::string& lower_case_name) const;
};

// A response in progress. Thread-safe: any thread may call it; the bytes are handed to the
// connection's strand and no call ever blocks on the network. Calls must come in a sensible
// order (Send once, or StartStream, Write..., End); calls out of order are ignored.
// Destroying the last reference without finishing the response finishes it: a 500 error when
// nothing was sent, End() for a started stream.
class ResponseWriter {
 public:
  ~ResponseWriter();
  ResponseWriter(const ResponseWriter&) = delete;
  ResponseWriter& operator=(const ResponseWriter&) = delete;

  // A complete response with Content-Length. Content-Length, Transfer-Encoding and Connection
  // headers are set by the transport (the handler's are dropped), as are headers holding CR/LF.
  void Send(int status, HeaderList headers, std::string body);
  // Send() of the OpenAI-style JSON error body (see JsonErrorBody) with Content-Type JSON.
  void SendError(int status, std::string_view message, std::string_view code = {});

  // Starts a streamed response (e.g. Server-Sent Events, "Content-Type: text/event-stream"):
  // status + headers go out with Transfer-Encoding: chunked (for an HTTP/1.0 client: no
  // framing and the connection closes at End()). Each Write() becomes one chunk, handed to the
  // socket at once (TCP_NODELAY). Write returns false once the client is gone, the response has
  // ended, or more than max_buffered_bytes_per_stream are waiting for a client that doesn't
  // read (the client is then dropped and OnDisconnect runs). An empty Write sends nothing.
  void StartStream(int status, HeaderList headers);
  bool Write(std::string_view data);
  void End();

  // True once the client disconnected or the response was completed (Send/End).
  bool closed() const;
  // True if the client went away (or was dropped) before the response was complete.
  bool disconnected() const;

  // `fn` runs once, on a transport thread, when the client disconnects before the response is
  // complete (Send/End called): while the handler still works, mid-stream, or when dropped for
  // not reading. If the client is already gone, `fn` runs at once on the calling thread. It
  // never runs after Send/End. Keep it short (it runs on an io thread): signal, don't work.
  // A later call replaces an earlier callback.
  void OnDisconnect(std::function<void()> fn);

 private:
  friend class internal::ResponseState;
  explicit ResponseWriter(std::shared_ptr<internal::ResponseState> state);
  std::shared_ptr<internal::ResponseState> state_;
};

// Called on a handler-pool thread once a request has been read in full. It may block briefly
// (JSON, tokenization) and must eventually finish the response, possibly later from another
// thread. Requests whose client left before a handler thread picked them up are not passed on.
using Handler = std::function<void(Request, std::shared_ptr<ResponseWriter>)>;

struct ServerOptions {
  std::string host = "127.0.0.1";  // IP literal or a resolvable name
  int port = 8000;                 // 0: any free port (see Server::port())
  size_t max_body_bytes = 32 << 20;    // larger -> 413, found from Content-Length before reading
  // Bytes all request bodies being read or handled may hold together (>= max_body_bytes). A
  // request whose body would exceed it gets 503 + Retry-After and its connection is closed: the
  // request itself is acceptable, the server is only busy (a 413 would tell the client never to
  // retry it). Without this bound max_connections * max_body_bytes could be buffered (32 GiB).
  // Checked from Content-Length before the body is read; chunked bodies as they arrive.
  size_t max_total_body_bytes = 256 << 20;
  size_t max_header_bytes = 64 << 10;  // request line + header fields; larger -> 431
  int max_connections = 1024;  // beyond: 503 + Retry-After + close
  // Deadline for a whole request (first byte to last body byte; for a new connection from the
  // accept): slow or stalled clients get 408 and are closed.
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds keep_alive_timeout{60};  // idle connection between requests
  // A write that makes no progress for this long (client not reading) drops the client.
  std::chrono::seconds write_timeout{30};
  size_t max_buffered_bytes_per_stream = 8 << 20;  // unsent bytes of one response
  int io_threads = 1;
  int handler_threads = 4;
};

// Transport counters (totals since Start, except the first two).
struct ServerStats {
  int64_t active_connections = 0;
  int64_t in_flight = 0;
  int64_t connections_accepted = 0;  // served connections (the rejected ones excluded)
  int64_t connections_rejected = 0;  // beyond max_connections: 503 (or closed under overload)
  int64_t requests = 0;              // passed to the handler
  int64_t transport_errors = 0;      // 400/408/413/417/431/505 answered by the transport itself
  int64_t clients_dropped = 0;       // a response's buffer bound or write timeout was hit
  int64_t body_bytes_held = 0;       // now: bytes reserved by bodies being read or handled
  int64_t body_budget_rejections = 0;  // 503s for max_total_body_bytes
};

class Server {
 public:
  // Binds and listens (errors: bad options, unresolvable host, address in use), then serves.
  static StatusOr<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler);
  // Shutdown(0) unless already shut down.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;  // the bound port (useful with port 0)

  // Closes the listening socket: new connections are refused; existing ones are served.
  // Idempotent. Don't call from a handler or OnDisconnect callback.
  void StopAccepting();
  // Graceful shutdown: stops accepting, closes idle connections, waits up to `timeout` for
  // requests in progress (being read, handled or written; responses get Connection: close),
  // then closes every connection (OnDisconnect runs for unfinished responses), waits for the
  // handler threads to return and stops the io threads. Idempotent; later calls wait for the
  // first. Writers outliving the server are inert (Write returns false).
  // Don't call from a handler or OnDisconnect callback.
  void Shutdown(std::chrono::milliseconds timeout);

  int64_t active_connections() const;  // open client connections (503-rejected ones excluded)
  int64_t in_flight() const;           // requests passed to the handler, response unfinished
  ServerStats stats() const;

 private:
  explicit Server(std::unique_ptr<internal::ServerCore> core);
  std::unique_ptr<internal::ServerCore> core_;
};

}  // namespace pagellm::http
