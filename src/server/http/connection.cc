// Connection: one client socket's state machine (read, parse, limits, dispatch, write, close).
//
//   kIdle ──first byte──> kReading ──request complete──> kResponding ──written──> kIdle
//     │ keep-alive timeout     │ bad/too big/too slow: error response ─┘  │ not keep-alive
//     v                        v                                          v
//   kClosed <──────────── EOF / RST / write error / Shutdown ──────── kLingering (drain input)
//
// One read is always pending (except when the bounded input buffer is full), also while a
// request is being handled: pipelined bytes queue in the buffer, and EOF/RST is seen at once.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "src/server/http/json_error.h"
#include "src/server/http/server_internal.h"

namespace pagellm::http::internal {
namespace {

namespace bhttp = boost::beast::http;
using ErrorCode = boost::system::error_code;

constexpr size_t kReadChunk = 16 << 10;
// The input buffer holds a request header (up to max_header_bytes) plus this much more.
constexpr size_t kBufferSlack = 64 << 10;
// How long a closing connection keeps discarding input so that the client reads our response
// instead of a reset.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string ToString(boost::beast::string_view s) { return std::string(s.data(), s.size()); }

// True if the request line in `data` is well formed but names an HTTP version other than 1.x
// (Beast reports those as a plain syntax error).
bool UnsupportedVersion(std::string_view data) {
  const size_t eol = data.find("\r\n");
  if (eol == std::string_view::npos || eol < 9) return false;
  const std::string_view v = data.substr(eol - 8, 8);  // "HTTP/d.d"
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return data[eol - 9] == ' ' && v.substr(0, 5) == "HTTP/" && digit(v[5]) && v[6] == '.' &&
         digit(v[7]) && v[5] != '1';
}

bool IEquals(boost::beast::string_view a, std::string_view b) {
  return boost::beast::iequals(a, boost::beast::string_view(b.data(), b.size()));
}

}  // namespace

Connection::Connection(ServerCore& core, tcp::socket socket, bool rejected)
    : core_(core),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      write_timer_(socket_.get_executor()),
      rejected_(rejected),
      buffer_limit_(core.options.max_header_bytes + kBufferSlack),
      buffer_(buffer_limit_),
      read_chunk_(std::make_unique<char[]>(kReadChunk)),
      body_(&core.body_budget) {}

Connection::~Connection() = default;

void Connection::Start() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    ErrorCode ec;
    self->socket_.set_option(tcp::no_delay(true), ec);
    const tcp::endpoint ep = self->socket_.remote_endpoint(ec);
    if (!ec) {
      const std::string ip = ep.address().to_string();
      self->remote_ = ep.address().is_v6() ? StrCat("[", ip, "]:", ep.port())
                                           : StrCat(ip, ":", ep.port());
    }
    if (self->rejected_) {
      self->RespondError(503, "the server has too many open connections; retry later",
                         "server_overloaded", {{"Retry-After", "1"}});
    } else {
      self->ArmTimer(self->core_.options.read_timeout);
    }
    self->ReadMore();
  });
}

void Connection::PostFlush() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->StartWrite(); });
}

void Connection::PostAbort() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->phase_ != Phase::kClosed) self->core_.num_dropped.fetch_add(1);
    self->CloseNow();
  });
}

void Connection::PostDrain() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->phase_ == Phase::kIdle) self->CloseNow();
  });
}

void Connection::PostClose() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
}

void Connection::SetPhase(Phase phase) {
  const auto busy = [](Phase p) { return p == Phase::kReading || p == Phase::kResponding; };
  const bool was_busy = busy(phase_);
  phase_ = phase;
  if (was_busy && !busy(phase)) {
    if (core_.num_busy.fetch_sub(1) == 1) core_.NotifyProgress();
  } else if (!was_busy && busy(phase)) {
    core_.num_busy.fetch_add(1);
  }
}

void Connection::ReadMore() {
  if (read_pending_ || phase_ == Phase::kClosed || peer_eof_) return;
  const size_t size = buffer_.size();
  if (size >= buffer_limit_) return;  // paused until the buffered requests are consumed
  read_pending_ = true;
  // The read lands in read_chunk_, not in buffer_: buffer_ is consumed (which may move its
  // pointers) while the read is pending. Since buffer_ only shrinks meanwhile, the bytes read
  // still fit under buffer_limit_ when appended.
  socket_.async_read_some(
      asio::buffer(read_chunk_.get(), std::min(kReadChunk, buffer_limit_ - size)),
      [self = shared_from_this()](ErrorCode ec, size_t n) { self->OnRead(ec, n); });
}

void Connection::OnRead(ErrorCode ec, size_t n) {
  read_pending_ = false;
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    // A client that closes its side after a response was completed still gets that response;
    // a client that goes away while its response is unfinished has disconnected.
    if (ec == asio::error::eof && phase_ == Phase::kResponding && current_ != nullptr &&
        current_->closed()) {
      peer_eof_ = true;
      return;
    }
    CloseNow();
    return;
  }
  if (phase_ == Phase::kLingering) {
    ReadMore();  // discard
    return;
  }
  buffer_.commit(asio::buffer_copy(buffer_.prepare(n), asio::buffer(read_chunk_.get(), n)));
  if (phase_ == Phase::kIdle || phase_ == Phase::kReading) ProcessInput();
  ReadMore();
}

void Connection::ProcessInput() {
  const ServerOptions& options = core_.options;
  while (phase_ == Phase::kIdle || phase_ == Phase::kReading) {
    if (phase_ == Phase::kIdle) {
      // RFC 9112 section 2.2: ignore empty lines received before a request line.
      const auto data = buffer_.data();
      const char* p = static_cast<const char*>(data.data());
      size_t skip = 0;
      while (skip < data.size() && (p[skip] == '\r' || p[skip] == '\n')) ++skip;
      buffer_.consume(skip);
      if (buffer_.size() == 0) return;
      SetPhase(Phase::kReading);
      parser_.emplace();
      parser_->header_limit(static_cast<uint32_t>(
          std::min<size_t>(options.max_header_bytes, std::numeric_limits<uint32_t>::max())));
      parser_->body_limit(static_cast<uint64_t>(options.max_body_bytes));
      header_checked_ = false;
      ArmTimer(options.read_timeout);
    }
    if (buffer_.size() == 0) return;
    ErrorCode ec;
    const size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == bhttp::error::need_more) {
      if (buffer_.size() >= buffer_limit_) {
        // Only a chunk-size line longer than the whole buffer gets here.
        RespondError(400, "malformed HTTP request: chunk header too long", "bad_request");
      }
      return;
    }
    if (ec == bhttp::error::header_limit) {
      RespondError(431, StrCat("request header fields exceed ", options.max_header_bytes, " bytes"),
                   "request_header_fields_too_large");
      return;
    }
    if (ec == bhttp::error::body_limit) {
      RespondError(413, StrCat("request body exceeds ", options.max_body_bytes, " bytes"),
                   "request_too_large");
      return;
    }
    if (ec == bhttp::error::bad_version &&
        UnsupportedVersion(std::string_view(static_cast<const char*>(buffer_.data().data()),
                                            buffer_.size()))) {
      RespondError(505, "only HTTP/1.0 and HTTP/1.1 are supported", "http_version_not_supported");
      return;
    }
    if (ec) {
      RespondError(400, StrCat("malformed HTTP request: ", ec.message()), "bad_request");
      return;
    }
    if (!header_checked_ && parser_->is_header_done()) {
      header_checked_ = true;
      if (!CheckHeader()) return;
    }
    // A chunked body's size is only known as it arrives.
    if (header_checked_ && parser_->chunked() && !ReserveBody(parser_->get().body().size())) return;
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    if (used == 0) return;  // no progress: wait for more bytes
  }
}

bool Connection::CheckHeader() {
  const auto& msg = parser_->get();
  if (msg.version() != 10 && msg.version() != 11) {
    RespondError(505, "only HTTP/1.0 and HTTP/1.1 are supported", "http_version_not_supported");
    return false;
  }
  // RFC 9112 section 6.3: a request whose transfer coding isn't chunked has no reliable length.
  if (msg.count(bhttp::field::transfer_encoding) > 0 && !parser_->chunked()) {
    RespondError(400, "unsupported Transfer-Encoding (only \"chunked\" is accepted)",
                 "bad_request");
    return false;
  }
  // The whole body is reserved before any of it is read (and before 100 Continue invites it).
  if (const auto length = parser_->content_length(); length && !ReserveBody(static_cast<size_t>(*length))) {
    return false;
  }
  const auto expect = msg[bhttp::field::expect];
  if (!expect.empty()) {
    if (!IEquals(expect, "100-continue")) {
      RespondError(417, "unsupported Expect header", "expectation_failed");
      return false;
    }
    // The body limit has passed (Content-Length is checked with the header): invite the body.
    if (msg.version() == 11 && !parser_->is_done() && buffer_.size() == 0 && !writing_) {
      writing_ = true;
      ArmWriteTimer();
      asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](ErrorCode ec, size_t) {
                          self->writing_ = false;
                          ++self->write_gen_;
                          self->write_timer_.cancel();
                          if (self->phase_ == Phase::kClosed) return;
                          if (ec) {
                            self->CloseNow();
                            return;
                          }
                          self->StartWrite();
                        });
    }
  }
  return true;
}

bool Connection::ReserveBody(size_t total) {
  if (body_.GrowTo(total)) return true;
  core_.num_body_rejections.fetch_add(1, std::memory_order_relaxed);
  RespondError(503, "the server holds too many request bodies at the moment; retry later",
               "server_overloaded", {{"Retry-After", "1"}});
  return false;
}

void Connection::Dispatch() {
  CancelTimer();  // the handler may take as long as it needs
  auto msg = parser_->release();
  parser_.reset();
  Request request;
  request.method = ToString(msg.method_string());
  request.target = ToString(msg.target());
  request.path = request.target.substr(0, request.target.find('?'));
  request.version = msg.version();
  for (const auto& field : msg) {
    std::string name = ToString(field.name_string());
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    auto [it, inserted] = request.headers.try_emplace(std::move(name), ToString(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second += ToString(field.value());
    }
  }
  request.body = std::move(msg.body());
  request.remote = remote_;
  ResponseMode mode;
  mode.head = msg.method() == bhttp::verb::head;
  mode.http11 = msg.version() == 11;
  mode.keep_alive = msg.keep_alive();
  current_ = std::make_shared<ResponseState>(shared_from_this(), mode,
                                             core_.options.max_buffered_bytes_per_stream,
                                             &core_.draining);
  SetPhase(Phase::kResponding);
  dispatched_ = true;
  core_.num_in_flight.fetch_add(1);
  core_.num_requests.fetch_add(1, std::memory_order_relaxed);
  asio::post(core_.handler_pool,
             [core = &core_, request = std::move(request), writer = ResponseState::NewWriter(current_),
              body = std::move(body_)]() mutable {
               core->RunHandler(std::move(request), std::move(writer), std::move(body));
             });
  body_ = BodyReservation(&core_.body_budget);
}

void Connection::RespondError(int status, std::string_view message, std::string_view code,
                              HeaderList extra) {
  CancelTimer();
  parser_.reset();
  body_.Reset();
  if (!rejected_) core_.num_transport_errors.fetch_add(1, std::memory_order_relaxed);
  ResponseMode mode;
  mode.keep_alive = false;  // the rest of the input can't be trusted
  current_ = std::make_shared<ResponseState>(shared_from_this(), mode,
                                             std::numeric_limits<size_t>::max(), &core_.draining);
  SetPhase(Phase::kResponding);
  HeaderList headers = {{"Content-Type", "application/json"}};
  for (auto& header : extra) headers.push_back(std::move(header));
  current_->Send(status, std::move(headers), JsonErrorBody(status, message, code));
}

void Connection::StartWrite() {
  if (writing_ || phase_ != Phase::kResponding || current_ == nullptr) return;
  const bool complete = current_->TakePending(&write_buf_);
  if (write_buf_.empty()) {
    if (complete) FinishResponse();
    return;
  }
  writing_ = true;
  ArmWriteTimer();
  asio::async_write(socket_, asio::buffer(write_buf_),
                    [self = shared_from_this()](ErrorCode ec, size_t n) {
                      self->OnWritten(ec, n);
                    });
}

void Connection::OnWritten(ErrorCode ec, size_t n) {
  writing_ = false;
  ++write_gen_;
  write_timer_.cancel();
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    CloseNow();
    return;
  }
  if (current_ != nullptr) current_->Written(n);
  if (write_buf_.capacity() > kReadChunk * 4) {
    std::string().swap(write_buf_);  // don't keep a large response's buffer per connection
  } else {
    write_buf_.clear();
  }
  StartWrite();
}

void Connection::FinishResponse() {
  const std::shared_ptr<ResponseState> state = std::move(current_);
  state->Detach();
  if (dispatched_) {
    dispatched_ = false;
    core_.num_in_flight.fetch_sub(1);
  }
  if (rejected_ || peer_eof_ || !state->keep_alive() ||
      core_.draining.load(std::memory_order_relaxed)) {
    GracefulClose();
    return;
  }
  SetPhase(Phase::kIdle);
  ArmTimer(core_.options.keep_alive_timeout);
  ProcessInput();  // a pipelined request may be waiting in the buffer
  ReadMore();
}

void Connection::GracefulClose() {
  if (peer_eof_) {
    CloseNow();
    return;
  }
  SetPhase(Phase::kLingering);
  parser_.reset();
  ErrorCode ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    CloseNow();
    return;
  }
  buffer_.consume(buffer_.size());
  ArmTimer(kLingerTimeout);
  ReadMore();
}

void Connection::CloseNow() {
  if (phase_ == Phase::kClosed) return;
  SetPhase(Phase::kClosed);
  CancelTimer();
  ++write_gen_;
  write_timer_.cancel();
  ErrorCode ec;
  socket_.close(ec);
  if (dispatched_) {
    dispatched_ = false;
    core_.num_in_flight.fetch_sub(1);
  }
  parser_.reset();
  body_.Reset();
  if (current_ != nullptr) {
    const std::shared_ptr<ResponseState> state = std::move(current_);
    state->ConnectionLost();  // runs OnDisconnect if the response was unfinished
  }
  core_.Unregister(this, rejected_);
}

void Connection::ArmTimer(std::chrono::steady_clock::duration d) {
  const uint64_t gen = ++timer_gen_;
  timer_.expires_after(d);
  timer_.async_wait([self = shared_from_this(), gen](ErrorCode ec) { self->OnTimer(ec, gen); });
}

void Connection::CancelTimer() {
  ++timer_gen_;
  timer_.cancel();
}

void Connection::OnTimer(ErrorCode ec, uint64_t gen) {
  if (ec || gen != timer_gen_ || phase_ == Phase::kClosed) return;
  switch (phase_) {
    case Phase::kIdle:
    case Phase::kLingering:
      CloseNow();
      break;
    case Phase::kReading:
      RespondError(408, "timed out reading the request", "request_timeout");
      break;
    case Phase::kResponding:
    case Phase::kClosed:
      break;
  }
}

void Connection::ArmWriteTimer() {
  const uint64_t gen = ++write_gen_;
  write_timer_.expires_after(core_.options.write_timeout);
  write_timer_.async_wait([self = shared_from_this(), gen](ErrorCode ec) {
    if (ec || gen != self->write_gen_ || !self->writing_ || self->phase_ == Phase::kClosed) {
      return;
    }
    self->core_.num_dropped.fetch_add(1);
    self->CloseNow();  // the client stopped reading
  });
}

}  // namespace pagellm::http::internal
