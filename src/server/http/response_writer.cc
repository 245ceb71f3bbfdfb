// ResponseWriter and its shared ResponseState: response serialization, chunking, buffer bound.
#include <cstdio>
#include <utility>

#include "src/server/http/json_error.h"
#include "src/server/http/server_internal.h"

namespace pagellm::http {
namespace internal {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A header the handler may set: a token name and a value without CR, LF or NUL.
bool ValidHeader(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ':' || c == '(' || c == ')' || c == ',' || c == '/' ||
        c == ';' || c == '<' || c == '=' || c == '>' || c == '?' || c == '@' || c == '[' ||
        c == '\\' || c == ']' || c == '{' || c == '}' || c == '"') {
      return false;
    }
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// Headers the transport owns.
bool TransportHeader(std::string_view name) {
  return IEquals(name, "content-length") || IEquals(name, "transfer-encoding") ||
         IEquals(name, "connection") || IEquals(name, "keep-alive");
}

void AppendHex(std::string* out, size_t n) {
  char buf[24];
  const int len = std::snprintf(buf, sizeof(buf), "%zx", n);
  out->append(buf, static_cast<size_t>(len));
}

}  // namespace

ResponseState::ResponseState(std::shared_ptr<Connection> conn, ResponseMode mode,
                             size_t max_buffered_bytes, const std::atomic<bool>* draining)
    : conn_(std::move(conn)),
      mode_(mode),
      max_buffered_bytes_(max_buffered_bytes),
      draining_(draining) {}

std::shared_ptr<ResponseWriter> ResponseState::NewWriter(std::shared_ptr<ResponseState> state) {
  return std::shared_ptr<ResponseWriter>(new ResponseWriter(std::move(state)));
}

void ResponseState::AppendHeadLocked(int status, const HeaderList& headers) {
  if (status < 100 || status > 999) status = 500;  // a handler bug; never emit a bad line
  keep_alive_ = mode_.keep_alive && !draining_->load(std::memory_order_relaxed);
  pending_ += StrCat("HTTP/1.1 ", status, " ", ReasonPhrase(status), "\r\n");
  for (const auto& [name, value] : headers) {
    if (!ValidHeader(name, value)) continue;
    if (TransportHeader(name)) {
      // The handler may ask for the connection to be closed after this response.
      if (IEquals(name, "connection") && IEquals(value, "close")) keep_alive_ = false;
      continue;
    }
    pending_ += name;
    pending_ += ": ";
    pending_ += value;
    pending_ += "\r\n";
  }
}

void ResponseState::FlushLocked() {
  if (flush_posted_ || conn_ == nullptr) return;
  flush_posted_ = true;
  conn_->PostFlush();
}

void ResponseState::SendLocked(int status, const HeaderList& headers, std::string_view body) {
  phase_ = Phase::kDone;
  closed_.store(true, std::memory_order_release);
  if (lost_) return;
  const size_t old_size = pending_.size();
  AppendHeadLocked(status, headers);
  const bool no_body = status < 200 || status == 204 || status == 304;
  if (status >= 200 && status != 204 && status != 304) {
    pending_ += StrCat("Content-Length: ", body.size(), "\r\n");
  }
  if (!keep_alive_) {
    pending_ += "Connection: close\r\n";
  } else if (!mode_.http11) {
    pending_ += "Connection: keep-alive\r\n";
  }
  pending_ += "\r\n";
  if (!no_body && !mode_.head) pending_ += body;
  buffered_bytes_ += pending_.size() - old_size;
  FlushLocked();
}

void ResponseState::Send(int status, HeaderList headers, std::string body) {
  std::lock_guard lock(mu_);
  if (phase_ != Phase::kNone) return;  // only once
  SendLocked(status, headers, body);
}

void ResponseState::StartStream(int status, HeaderList headers) {
  std::lock_guard lock(mu_);
  if (phase_ != Phase::kNone) return;
  phase_ = Phase::kStreaming;
  if (lost_) return;
  const size_t old_size = pending_.size();
  AppendHeadLocked(status, headers);
  chunked_ = mode_.http11 && !mode_.head;
  if (chunked_) {
    pending_ += "Transfer-Encoding: chunked\r\n";
  } else if (!mode_.head) {
    keep_alive_ = false;  // HTTP/1.0: the end of the body is the end of the connection
  }
  if (!keep_alive_) {
    pending_ += "Connection: close\r\n";
  } else if (!mode_.http11) {
    pending_ += "Connection: keep-alive\r\n";
  }
  pending_ += "\r\n";
  buffered_bytes_ += pending_.size() - old_size;
  FlushLocked();
}

bool ResponseState::Write(std::string_view data) {
  std::lock_guard lock(mu_);
  if (phase_ != Phase::kStreaming || lost_) return false;
  if (data.empty() || mode_.head) return true;  // an empty chunk would end the stream
  const size_t framing = chunked_ ? 16 + 4 : 0;
  if (buffered_bytes_ + data.size() + framing > max_buffered_bytes_) {
    // The client isn't reading: drop it rather than buffer without bound.
    lost_ = true;
    closed_.store(true, std::memory_order_release);
    disconnected_.store(true, std::memory_order_release);
    if (conn_ != nullptr) conn_->PostAbort();
    return false;
  }
  const size_t old_size = pending_.size();
  if (chunked_) {
    AppendHex(&pending_, data.size());
    pending_ += "\r\n";
    pending_ += data;
    pending_ += "\r\n";
  } else {
    pending_ += data;
  }
  buffered_bytes_ += pending_.size() - old_size;
  FlushLocked();
  return true;
}

void ResponseState::EndLocked() {
  phase_ = Phase::kDone;
  closed_.store(true, std::memory_order_release);
  if (lost_) return;
  if (chunked_) {
    pending_ += "0\r\n\r\n";
    buffered_bytes_ += 5;
  }
  FlushLocked();  // even with nothing to add, the connection must learn that the end came
}

void ResponseState::End() {
  std::lock_guard lock(mu_);
  if (phase_ != Phase::kStreaming) return;
  EndLocked();
}

void ResponseState::Abandon() {
  std::lock_guard lock(mu_);
  if (phase_ == Phase::kNone) {
    SendLocked(500, {{"Content-Type", "application/json"}},
               JsonErrorBody(500, "the request handler produced no response", "internal_error"));
  } else if (phase_ == Phase::kStreaming) {
    EndLocked();
  }
}

void ResponseState::OnDisconnect(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (phase_ == Phase::kDone || !fn) return;
    if (!(lost_ && conn_ == nullptr)) {
      on_disconnect_ = std::move(fn);  // ConnectionLost runs it
      return;
    }
  }
  fn();  // the client is already gone: run now, on the caller's thread
}

bool ResponseState::TakePending(std::string* out) {
  std::lock_guard lock(mu_);
  out->swap(pending_);
  flush_posted_ = false;
  return phase_ == Phase::kDone;
}

void ResponseState::Written(size_t num_bytes) {
  std::lock_guard lock(mu_);
  buffered_bytes_ -= std::min(buffered_bytes_, num_bytes);
}

bool ResponseState::keep_alive() const {
  std::lock_guard lock(mu_);
  return keep_alive_ && !lost_;
}

void ResponseState::Detach() {
  std::function<void()> unused;  // may own the last ResponseWriter: destroyed after unlocking
  std::lock_guard lock(mu_);
  conn_.reset();
  unused = std::move(on_disconnect_);
  on_disconnect_ = nullptr;
}

void ResponseState::ConnectionLost() {
  std::function<void()> fn;  // may own the last ResponseWriter: run and destroyed unlocked
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    conn_.reset();
    notify = phase_ != Phase::kDone;
    if (notify) disconnected_.store(true, std::memory_order_release);
    lost_ = true;
    closed_.store(true, std::memory_order_release);
    pending_.clear();
    fn = std::move(on_disconnect_);
    on_disconnect_ = nullptr;
  }
  if (notify && fn) fn();
}

}  // namespace internal

ResponseWriter::ResponseWriter(std::shared_ptr<internal::ResponseState> state)
    : state_(std::move(state)) {}

ResponseWriter::~ResponseWriter() { state_->Abandon(); }

void ResponseWriter::Send(int status, HeaderList headers, std::string body) {
  state_->Send(status, std::move(headers), std::move(body));
}

void ResponseWriter::SendError(int status, std::string_view message, std::string_view code) {
  state_->Send(status, {{"Content-Type", "application/json"}},
               JsonErrorBody(status, message, code));
}

void ResponseWriter::StartStream(int status, HeaderList headers) {
  state_->StartStream(status, std::move(headers));
}

bool ResponseWriter::Write(std::string_view data) { return state_->Write(data); }
void ResponseWriter::End() { state_->End(); }
bool ResponseWriter::closed() const { return state_->closed(); }
bool ResponseWriter::disconnected() const { return state_->disconnected(); }
void ResponseWriter::OnDisconnect(std::function<void()> fn) { state_->OnDisconnect(std::move(fn)); }

}  // namespace pagellm::http
