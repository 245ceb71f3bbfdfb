// Transport internals shared by server.cc, connection.cc and response_writer.cc (not public API).
//
// Ownership:
//   ServerCore (owned by Server) ── io_context, acceptor, handler pool, connection registry
//   Connection (shared_ptr, kept alive by its pending async operations)
//     └─ current_ : shared_ptr<ResponseState> of the response in progress
//   ResponseState ─ conn_ : shared_ptr<Connection>, cleared ("detached") when the response
//     finishes or the connection closes, which breaks the cycle; a detached state never posts.
//   ResponseWriter (handed to the handler) ─ shared_ptr<ResponseState>
// Every Connection is closed (hence every state detached) before the io threads are joined,
// so nothing can post to the io_context once it stops.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "absl/container/flat_hash_map.h"
#include "src/server/http/server.h"

namespace pagellm::http::internal {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

class Connection;

// The bytes held by request bodies being read or handled, bounded by max_total_body_bytes.
class BodyBudget {
 public:
  explicit BodyBudget(size_t limit) : limit_(limit) {}
  // Adds `n` bytes unless that would pass the limit.
  bool TryReserve(size_t n);
  void Release(size_t n) { held_.fetch_sub(n, std::memory_order_acq_rel); }
  size_t held() const { return held_.load(std::memory_order_acquire); }

 private:
  const size_t limit_;
  std::atomic<size_t> held_{0};
};

// One request body's share of the BodyBudget; released when reset, moved from or destroyed.
class BodyReservation {
 public:
  BodyReservation() = default;
  explicit BodyReservation(BodyBudget* budget) : budget_(budget) {}
  BodyReservation(BodyReservation&& other) noexcept
      : budget_(other.budget_), bytes_(std::exchange(other.bytes_, 0)) {}
  BodyReservation& operator=(BodyReservation&& other) noexcept;
  ~BodyReservation() { Reset(); }

  // Grows the reservation to `total` bytes; false (reservation unchanged) if the budget is spent.
  bool GrowTo(size_t total);
  void Reset();
  size_t bytes() const { return bytes_; }

 private:
  BodyBudget* budget_ = nullptr;
  size_t bytes_ = 0;
};

// What the request allows its response to do.
struct ResponseMode {
  bool head = false;        // HEAD: headers only
  bool http11 = true;       // chunked encoding available
  bool keep_alive = true;   // the request permits a persistent connection
};

// The shared state of one response; see ResponseWriter for the handler-side contract.
class ResponseState : public std::enable_shared_from_this<ResponseState> {
 public:
  ResponseState(std::shared_ptr<Connection> conn, ResponseMode mode, size_t max_buffered_bytes,
                const std::atomic<bool>* draining);

  static std::shared_ptr<ResponseWriter> NewWriter(std::shared_ptr<ResponseState> state);

  // Handler side, any thread.
  void Send(int status, HeaderList headers, std::string body);
  void StartStream(int status, HeaderList headers);
  bool Write(std::string_view data);
  void End();
  void OnDisconnect(std::function<void()> fn);
  void Abandon();  // the last ResponseWriter is gone
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  bool disconnected() const { return disconnected_.load(std::memory_order_acquire); }

  // Connection side, on its strand.
  // Swaps the bytes waiting to be written into the empty `out`; true once the handler has
  // completed the response (then, if `out` comes back empty, everything has been written).
  bool TakePending(std::string* out);
  void Written(size_t num_bytes);
  bool keep_alive() const;  // the response permits reusing the connection
  void Detach();            // the response was written in full
  void ConnectionLost();    // the connection closed first: OnDisconnect fires if incomplete

 private:
  enum class Phase { kNone, kStreaming, kDone };

  // All *Locked functions require mu_.
  void SendLocked(int status, const HeaderList& headers, std::string_view body);
  void AppendHeadLocked(int status, const HeaderList& headers);
  void EndLocked();
  void FlushLocked();

  mutable std::mutex mu_;
  std::shared_ptr<Connection> conn_;  // null once detached
  const ResponseMode mode_;
  const size_t max_buffered_bytes_;
  const std::atomic<bool>* draining_;
  Phase phase_ = Phase::kNone;
  bool chunked_ = false;
  bool keep_alive_ = true;
  bool flush_posted_ = false;
  bool lost_ = false;                 // client gone or dropped: nothing more is sent
  std::string pending_;               // encoded bytes not yet taken by the connection
  size_t buffered_bytes_ = 0;         // pending_ plus bytes the connection is writing
  std::function<void()> on_disconnect_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> disconnected_{false};
};

class ServerCore {
 public:
  ServerCore(ServerOptions options, Handler handler);

  const ServerOptions options;
  const Handler handler;
  asio::io_context ioc;
  asio::thread_pool handler_pool;
  std::atomic<int64_t> num_active{0};     // registered, not rejected
  std::atomic<int64_t> num_rejecting{0};  // being sent a 503
  std::atomic<int64_t> num_in_flight{0};  // dispatched to the handler, response unfinished
  std::atomic<int64_t> num_busy{0};       // reading a request or writing a response
  std::atomic<bool> draining{false};
  // Totals for ServerStats.
  std::atomic<int64_t> num_accepted{0};
  std::atomic<int64_t> num_rejected{0};
  std::atomic<int64_t> num_requests{0};
  std::atomic<int64_t> num_transport_errors{0};
  std::atomic<int64_t> num_dropped{0};
  std::atomic<int64_t> num_body_rejections{0};
  BodyBudget body_budget;

  // Adds a started connection; false once Shutdown closes everything (the caller drops it).
  bool Register(const std::shared_ptr<Connection>& conn, bool rejected);
  void Unregister(Connection* conn, bool rejected);
  // Wakes Shutdown's waits (after num_busy or the registry shrinks).
  void NotifyProgress();
  // Runs the handler for one request on a handler-pool thread; the body's reservation is released
  // when the handler returns (it has copied or parsed what it needs by then).
  void RunHandler(Request request, std::shared_ptr<ResponseWriter> writer, BodyReservation body);

  // Server side (server.cc).
  Status Listen();
  void StartThreads();
  void DoAccept();
  void OnAccept(boost::system::error_code ec, tcp::socket socket);
  void StopAccepting();
  void Shutdown(std::chrono::milliseconds timeout);

  int port = 0;

 private:
  friend class pagellm::http::Server;
  // Posts `fn` to every registered connection's strand.
  void ForEachConnection(void (Connection::*fn)());

  Strand accept_strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_timer_;
  bool accepting_ = false;  // on accept_strand_
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> io_threads_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool closing_ = false;  // Shutdown is closing every connection; no new registrations
  absl::flat_hash_map<Connection*, std::weak_ptr<Connection>> conns_;
  std::mutex shutdown_mu_;  // serializes Shutdown calls
  bool shut_down_ = false;  // under shutdown_mu_
};

// One client connection: reads and parses requests, dispatches them, writes responses.
// Everything except the Post* functions runs on the connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerCore& core, tcp::socket socket, bool rejected);
  ~Connection();

  void Start();
  void PostFlush();  // the current response has new bytes (or was completed)
  void PostAbort();  // the current response hit its buffer bound: drop the client
  void PostDrain();  // the server is draining: close if idle
  void PostClose();  // close now

 private:
  enum class Phase {
    kIdle,        // waiting for the first byte of a request
    kReading,     // a request is partially read
    kResponding,  // a response is being produced / written
    kLingering,   // response written, send side shut down, discarding input until EOF
    kClosed,
  };

  void SetPhase(Phase phase);
  void ReadMore();
  void OnRead(boost::system::error_code ec, size_t n);
  void ProcessInput();
  bool CheckHeader();  // false if an error response was started
  bool ReserveBody(size_t total);  // false if the body budget is spent (a 503 was started)
  void Dispatch();
  void RespondError(int status, std::string_view message, std::string_view code,
                    HeaderList extra = {});
  void StartWrite();
  void OnWritten(boost::system::error_code ec, size_t n);
  void FinishResponse();
  void GracefulClose();
  void CloseNow();
  void ArmTimer(std::chrono::steady_clock::duration d);
  void CancelTimer();
  void OnTimer(boost::system::error_code ec, uint64_t gen);
  void ArmWriteTimer();

  ServerCore& core_;
  tcp::socket socket_;
  asio::steady_timer timer_;        // read deadline, keep-alive or linger (by phase)
  asio::steady_timer write_timer_;  // the write in progress must finish by then
  const bool rejected_;
  const size_t buffer_limit_;
  Phase phase_ = Phase::kIdle;
  boost::beast::flat_buffer buffer_;  // received bytes not yet parsed (max buffer_limit_)
  std::unique_ptr<char[]> read_chunk_;  // the pending read's destination
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  bool header_checked_ = false;
  bool read_pending_ = false;
  bool writing_ = false;
  bool peer_eof_ = false;
  bool dispatched_ = false;  // counted in num_in_flight
  uint64_t timer_gen_ = 0;
  uint64_t write_gen_ = 0;
  std::string write_buf_;
  std::shared_ptr<ResponseState> current_;
  std::string remote_;
  BodyReservation body_;  // the body of the request being read
};

}  // namespace pagellm::http::internal
