// Test helpers for the HTTP transport: a raw-socket client with a strict response reader.
#include "src/server/http/http_testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "gtest/gtest.h"
#include "src/base/status.h"

namespace pagellm::http::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string ClientResponse::Header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return "";
}

bool ClientResponse::HasHeader(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return true;
  }
  return false;
}

TestClient::TestClient(int port, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = StrCat("socket: ", std::strerror(errno));
    return;
  }
  if (receive_buffer > 0) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  timeval send_timeout{20, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    error_ = StrCat("connect: ", std::strerror(errno));
    return;
  }
  connected_ = true;
}

TestClient::~TestClient() { Close(); }

bool TestClient::Send(std::string_view bytes) {
  if (fd_ < 0) return false;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = StrCat("send: ", std::strerror(errno));
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool TestClient::Fill(Clock::time_point deadline) {
  if (fd_ < 0 || eof_) return false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      error_ = "timeout";
      return false;
    }
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // re-check the deadline
    char tmp[64 << 10];
    const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      error_ = n == 0 ? "eof" : StrCat("recv: ", std::strerror(errno));
      return false;
    }
    if (pos_ > 0 && pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
}

std::optional<std::string> TestClient::ReadLine(Clock::time_point deadline) {
  for (;;) {
    const size_t end = buf_.find("\r\n", pos_);
    if (end != std::string::npos) {
      std::string line = buf_.substr(pos_, end - pos_);
      pos_ = end + 2;
      return line;
    }
    if (!Fill(deadline)) return std::nullopt;
  }
}

bool TestClient::ReadExactly(size_t n, std::string* out, Clock::time_point deadline) {
  while (buf_.size() - pos_ < n) {
    if (!Fill(deadline)) return false;
  }
  out->append(buf_, pos_, n);
  pos_ += n;
  return true;
}

std::optional<ClientResponse> TestClient::ReadHead(Duration timeout) {
  const auto deadline = Clock::now() + timeout;
  auto status_line = ReadLine(deadline);
  if (!status_line) return std::nullopt;
  // "HTTP/1.1 200 OK"
  if (status_line->size() < 12 || status_line->compare(0, 9, "HTTP/1.1 ") != 0 ||
      (*status_line)[12] != ' ') {
    error_ = StrCat("bad status line: ", *status_line);
    return std::nullopt;
  }
  ClientResponse response;
  response.status = std::atoi(status_line->substr(9, 3).c_str());
  response.reason = status_line->substr(13);
  for (;;) {
    auto line = ReadLine(deadline);
    if (!line) return std::nullopt;
    if (line->empty()) break;
    const size_t colon = line->find(':');
    if (colon == std::string::npos || colon == 0) {
      error_ = StrCat("bad header line: ", *line);
      return std::nullopt;
    }
    response.headers.emplace_back(Lower(std::string_view(*line).substr(0, colon)),
                                  std::string(Trim(std::string_view(*line).substr(colon + 1))));
  }
  response.chunked = Lower(response.Header("transfer-encoding")) == "chunked";
  return response;
}

std::optional<std::string> TestClient::ReadChunkUntil(Clock::time_point deadline) {
  auto size_line = ReadLine(deadline);
  if (!size_line) return std::nullopt;
  const std::string hex = size_line->substr(0, size_line->find(';'));
  if (hex.empty() || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    error_ = StrCat("bad chunk size line: ", *size_line);
    return std::nullopt;
  }
  const size_t size = std::stoul(hex, nullptr, 16);
  if (size == 0) {
    for (;;) {  // trailers up to the empty line
      auto line = ReadLine(deadline);
      if (!line) return std::nullopt;
      if (line->empty()) return std::string();
    }
  }
  std::string data;
  if (!ReadExactly(size, &data, deadline)) return std::nullopt;
  std::string crlf;
  if (!ReadExactly(2, &crlf, deadline)) return std::nullopt;
  if (crlf != "\r\n") {
    error_ = "chunk data not followed by CRLF";
    return std::nullopt;
  }
  return data;
}

std::optional<std::string> TestClient::ReadChunk(Duration timeout) {
  return ReadChunkUntil(Clock::now() + timeout);
}

std::optional<ClientResponse> TestClient::ReadResponse(Duration timeout, bool head_request) {
  const auto deadline = Clock::now() + timeout;
  auto response = ReadHead(timeout);
  if (!response) return std::nullopt;
  const int status = response->status;
  if (head_request || status < 200 || status == 204 || status == 304) return response;
  if (response->chunked) {
    for (;;) {
      auto chunk = ReadChunkUntil(deadline);
      if (!chunk) return std::nullopt;
      if (chunk->empty()) break;
      response->body += *chunk;
      response->chunks.push_back(std::move(*chunk));
    }
  } else if (response->HasHeader("content-length")) {
    const std::string length = response->Header("content-length");
    if (length.empty() || length.find_first_not_of("0123456789") != std::string::npos) {
      error_ = StrCat("bad Content-Length: ", length);
      return std::nullopt;
    }
    if (!ReadExactly(std::stoull(length), &response->body, deadline)) return std::nullopt;
  } else {
    while (Fill(deadline)) {
    }
    if (!eof_) return std::nullopt;
    response->body = buf_.substr(pos_);
    pos_ = buf_.size();
  }
  return response;
}

std::optional<ClientResponse> TestClient::RoundTrip(std::string_view request, Duration timeout) {
  if (!Send(request)) return std::nullopt;
  return ReadResponse(timeout, request.substr(0, 5) == "HEAD ");
}

bool TestClient::WaitClosed(Duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Fill(deadline)) {
    buf_.clear();
    pos_ = 0;
  }
  return eof_;
}

bool TestClient::PeerClosedNow() {
  if (pos_ < buf_.size()) return false;
  while (WaitReadable(Duration(0))) {
    if (!Fill(Clock::now() + Duration(1000))) break;
  }
  return eof_ && pos_ == buf_.size();
}

bool TestClient::WaitReadable(Duration timeout) {
  if (fd_ < 0 || eof_) return eof_;
  pollfd pfd{fd_, POLLIN, 0};
  return ::poll(&pfd, 1, static_cast<int>(timeout.count())) > 0;
}

void TestClient::ShutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void TestClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void TestClient::Reset() {
  if (fd_ < 0) return;
  linger lin{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
  Close();
}

std::string GetRequest(std::string_view target, std::string_view extra_headers) {
  return StrCat("GET ", target, " HTTP/1.1\r\nHost: localhost\r\n", extra_headers, "\r\n");
}

std::string PostRequest(std::string_view target, std::string_view body,
                        std::string_view extra_headers) {
  return StrCat("POST ", target, " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n",
                "Content-Length: ", body.size(), "\r\n", extra_headers, "\r\n", body);
}

bool WaitFor(const std::function<bool()>& cond, Duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!cond()) {
    if (Clock::now() >= deadline) return cond();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

std::unique_ptr<Server> StartTestServer(Handler handler, ServerOptions options) {
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = Server::Start(std::move(options), std::move(handler));
  if (!server.ok()) {
    ADD_FAILURE() << "Server::Start: " << server.status();
    return nullptr;
  }
  return std::move(server).value();
}

Handler EchoHandler() {
  return [](Request request, std::shared_ptr<ResponseWriter> writer) {
    HeaderList headers = {{"Content-Type", "application/octet-stream"},
                          {"X-Method", request.method},
                          {"X-Target", request.target},
                          {"X-Path", request.path},
                          {"X-Remote", request.remote},
                          {"X-Version", std::to_string(request.version)},
                          {"X-Test", std::string(request.Header("x-test"))}};
    writer->Send(200, std::move(headers), std::move(request.body));
  };
}

}  // namespace pagellm::http::testing
