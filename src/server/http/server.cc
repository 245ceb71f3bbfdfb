// Server: options check, listening socket, accept loop, io threads, handler pool, shutdown.
#include "src/server/http/server.h"

#include <cstdio>
#include <exception>
#include <future>
#include <utility>

#include <boost/asio/post.hpp>

#include "src/server/http/server_internal.h"

namespace pagellm::http {

std::string_view Request::Header(const std::string& lower_case_name) const {
  const auto it = headers.find(lower_case_name);
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

namespace internal {
namespace {

using ErrorCode = boost::system::error_code;

// Connections beyond max_connections that are being sent a 503 at the same time; more are
// closed without a response.
constexpr int64_t kMaxRejecting = 64;
// Pause after a failed accept (e.g. out of file descriptors) instead of spinning.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

Status ValidateOptions(const ServerOptions& o) {
  if (o.port < 0 || o.port > 65535) return InvalidArgument(StrCat("bad port ", o.port));
  if (o.host.empty()) return InvalidArgument("empty host");
  if (o.max_header_bytes < 256 || o.max_header_bytes > (64u << 20)) {
    return InvalidArgument("max_header_bytes must be in [256, 64 MiB]");
  }
  if (o.max_total_body_bytes < o.max_body_bytes) {
    return InvalidArgument("max_total_body_bytes must be >= max_body_bytes");
  }
  if (o.max_connections < 1) return InvalidArgument("max_connections must be >= 1");
  if (o.io_threads < 1 || o.io_threads > 256) return InvalidArgument("io_threads must be in [1, 256]");
  if (o.handler_threads < 1 || o.handler_threads > 4096) {
    return InvalidArgument("handler_threads must be in [1, 4096]");
  }
  if (o.read_timeout.count() <= 0 || o.keep_alive_timeout.count() <= 0 ||
      o.write_timeout.count() <= 0) {
    return InvalidArgument("timeouts must be positive");
  }
  if (o.max_buffered_bytes_per_stream < 1) {
    return InvalidArgument("max_buffered_bytes_per_stream must be >= 1");
  }
  return absl::OkStatus();
}

}  // namespace

bool BodyBudget::TryReserve(size_t n) {
  size_t held = held_.load(std::memory_order_acquire);
  do {
    if (n > limit_ || held > limit_ - n) return false;
  } while (!held_.compare_exchange_weak(held, held + n, std::memory_order_acq_rel));
  return true;
}

BodyReservation& BodyReservation::operator=(BodyReservation&& other) noexcept {
  if (this != &other) {
    Reset();
    budget_ = other.budget_;
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

bool BodyReservation::GrowTo(size_t total) {
  if (total <= bytes_) return true;
  if (budget_ == nullptr || !budget_->TryReserve(total - bytes_)) return false;
  bytes_ = total;
  return true;
}

void BodyReservation::Reset() {
  if (budget_ != nullptr && bytes_ > 0) budget_->Release(bytes_);
  bytes_ = 0;
}

ServerCore::ServerCore(ServerOptions options_in, Handler handler_in)
    : options(std::move(options_in)),
      handler(std::move(handler_in)),
      handler_pool(static_cast<size_t>(options.handler_threads)),
      body_budget(options.max_total_body_bytes),
      accept_strand_(asio::make_strand(ioc)),
      acceptor_(accept_strand_),
      accept_retry_timer_(accept_strand_) {}

Status ServerCore::Listen() {
  ErrorCode ec;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(options.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, static_cast<uint16_t>(options.port));
  } else {
    tcp::resolver resolver(ioc);
    const auto results = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec || results.empty()) {
      return InvalidArgument(StrCat("cannot resolve host '", options.host, "': ", ec.message()));
    }
    endpoint = results.begin()->endpoint();
  }
  const std::string where = StrCat(options.host, ":", options.port);
  if (acceptor_.open(endpoint.protocol(), ec); ec) {
    return Internal(StrCat("cannot open a socket for ", where, ": ", ec.message()));
  }
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec); ec) {
    return InvalidArgument(StrCat("cannot listen on ", where, ": ", ec.message()));
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Internal(StrCat("cannot listen on ", where, ": ", ec.message()));
  }
  port = acceptor_.local_endpoint(ec).port();
  if (ec) return Internal(StrCat("cannot read the bound port: ", ec.message()));
  return absl::OkStatus();
}

void ServerCore::StartThreads() {
  work_.emplace(ioc.get_executor());
  accepting_ = true;
  asio::post(accept_strand_, [this] { DoAccept(); });
  try {
    for (int i = 0; i < options.io_threads; ++i) {
      io_threads_.emplace_back([this] {
        for (;;) {
          try {
            ioc.run();
            return;
          } catch (const std::exception& e) {
            // Nothing in the transport should throw; keep serving if something does.
            std::fprintf(stderr, "http: exception on an io thread: %s\n", e.what());
          }
        }
      });
    }
  } catch (...) {
    work_.reset();
    ioc.stop();
    for (auto& t : io_threads_) t.join();
    io_threads_.clear();
    throw;
  }
}

void ServerCore::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc), [this](ErrorCode ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void ServerCore::OnAccept(ErrorCode ec, tcp::socket socket) {
  if (!accepting_) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // Out of file descriptors or a transient network error: back off, then try again.
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](ErrorCode wait_ec) {
      if (!wait_ec && accepting_) DoAccept();
    });
    return;
  }
  const bool rejected = num_active.load() >= options.max_connections;
  (rejected ? num_rejected : num_accepted).fetch_add(1, std::memory_order_relaxed);
  if (rejected && num_rejecting.load() >= kMaxRejecting) {
    ErrorCode close_ec;
    socket.close(close_ec);  // overload on top of overload: no response at all
  } else {
    auto conn = std::make_shared<Connection>(*this, std::move(socket), rejected);
    if (Register(conn, rejected)) conn->Start();
  }
  DoAccept();
}

void ServerCore::StopAccepting() {
  std::promise<void> done;
  asio::post(accept_strand_, [this, &done] {
    if (accepting_) {
      accepting_ = false;
      ErrorCode ec;
      acceptor_.close(ec);
      accept_retry_timer_.cancel();
    }
    done.set_value();
  });
  done.get_future().wait();
}

bool ServerCore::Register(const std::shared_ptr<Connection>& conn, bool rejected) {
  std::lock_guard lock(mu_);
  if (closing_) return false;
  conns_.emplace(conn.get(), conn);
  (rejected ? num_rejecting : num_active).fetch_add(1);
  return true;
}

void ServerCore::Unregister(Connection* conn, bool rejected) {
  std::lock_guard lock(mu_);
  conns_.erase(conn);
  (rejected ? num_rejecting : num_active).fetch_sub(1);
  if (draining.load(std::memory_order_relaxed)) cv_.notify_all();
}

void ServerCore::NotifyProgress() {
  if (!draining.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mu_);  // so that a waiter between its check and its wait isn't missed
  cv_.notify_all();
}

void ServerCore::ForEachConnection(void (Connection::*fn)()) {
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(mu_);
    conns.reserve(conns_.size());
    for (const auto& [ptr, weak] : conns_) {
      if (auto conn = weak.lock()) conns.push_back(std::move(conn));
    }
  }
  for (const auto& conn : conns) ((*conn).*fn)();
}

void ServerCore::RunHandler(Request request, std::shared_ptr<ResponseWriter> writer,
                            BodyReservation body) {
  if (writer->closed()) return;  // the client left while the request waited for a thread
  try {
    handler(std::move(request), writer);
    body.Reset();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http: request handler threw: %s\n", e.what());
    writer->SendError(500, "internal error in the request handler", "internal_error");
  } catch (...) {
    std::fprintf(stderr, "http: request handler threw a non-exception\n");
    writer->SendError(500, "internal error in the request handler", "internal_error");
  }
}

void ServerCore::Shutdown(std::chrono::milliseconds timeout) {
  std::lock_guard shutdown_lock(shutdown_mu_);
  if (shut_down_) return;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  StopAccepting();
  draining.store(true);
  ForEachConnection(&Connection::PostDrain);
  {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [this] { return num_busy.load() == 0; });
    closing_ = true;
  }
  ForEachConnection(&Connection::PostClose);
  {
    // Every connection closes on its strand, which detaches every ResponseState: afterwards
    // no writer can post to the io_context any more.
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return conns_.empty(); });
  }
  work_.reset();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  handler_pool.join();
  shut_down_ = true;
}

}  // namespace internal

StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  RETURN_IF_ERROR(internal::ValidateOptions(options));
  if (!handler) return InvalidArgument("no request handler");
  try {
    auto core = std::make_unique<internal::ServerCore>(std::move(options), std::move(handler));
    RETURN_IF_ERROR(core->Listen());
    core->StartThreads();
    return std::unique_ptr<Server>(new Server(std::move(core)));
  } catch (const std::exception& e) {
    return Internal(StrCat("cannot start the HTTP server: ", e.what()));
  }
}

Server::Server(std::unique_ptr<internal::ServerCore> core) : core_(std::move(core)) {}

Server::~Server() { Shutdown(std::chrono::milliseconds(0)); }

int Server::port() const { return core_->port; }

void Server::StopAccepting() {
  std::lock_guard lock(core_->shutdown_mu_);
  if (!core_->shut_down_) core_->StopAccepting();
}

void Server::Shutdown(std::chrono::milliseconds timeout) { core_->Shutdown(timeout); }

int64_t Server::active_connections() const { return core_->num_active.load(); }

int64_t Server::in_flight() const { return core_->num_in_flight.load(); }

ServerStats Server::stats() const {
  const internal::ServerCore& c = *core_;
  ServerStats s;
  s.active_connections = c.num_active.load();
  s.in_flight = c.num_in_flight.load();
  s.connections_accepted = c.num_accepted.load();
  s.connections_rejected = c.num_rejected.load();
  s.requests = c.num_requests.load();
  s.transport_errors = c.num_transport_errors.load();
  s.clients_dropped = c.num_dropped.load();
  s.body_bytes_held = static_cast<int64_t>(c.body_budget.held());
  s.body_budget_rejections = c.num_body_rejections.load();
  return s;
}

}  // namespace pagellm::http
