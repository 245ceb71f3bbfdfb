// The streaming benchmark client: Boost.Beast over Asio C++20 coroutines on one io_context.
#include "tools/bench_http.h"

#include <utility>  // before Asio: its awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <limits>

#include "nlohmann/json.hpp"

namespace pagellm::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

StatusOr<BaseUrl> ParseBaseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, 8) == "https://") {
    return InvalidArgument(StrCat("--base-url ", url, ": https is not supported (use http://)"));
  }
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument(StrCat("--base-url must look like http://HOST[:PORT][/PREFIX], got '", url, "'"));
  }
  std::string_view rest = url.substr(kScheme.size());
  BaseUrl b;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) b.prefix = std::string(rest.substr(slash));
  while (!b.prefix.empty() && b.prefix.back() == '/') b.prefix.pop_back();
  if (authority.empty()) return InvalidArgument(StrCat("--base-url ", url, ": no host"));
  if (authority.front() == '[') {  // [ipv6]:port
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument(StrCat("--base-url ", url, ": bad IPv6 address"));
    b.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return InvalidArgument(StrCat("--base-url ", url, ": bad port"));
      b.port = std::string(authority.substr(1));
    }
  } else {
    const size_t colon = authority.rfind(':');
    b.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) b.port = std::string(authority.substr(colon + 1));
  }
  if (b.host.empty()) return InvalidArgument(StrCat("--base-url ", url, ": no host"));
  if (b.port.empty() || b.port.size() > 5 || b.port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(b.port) > 65535) {
    return InvalidArgument(StrCat("--base-url ", url, ": bad port '", b.port, "'"));
  }
  return b;
}

void SseParser::Feed(std::string_view bytes, const std::function<void(std::string_view)>& on_data) {
  for (char c : bytes) {
    if (c != '\n') {
      line_ += c;
      continue;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) {  // end of an event
      if (has_data_) on_data(data_);
      data_.clear();
      has_data_ = false;
    } else if (line_.compare(0, 5, "data:") == 0) {
      std::string_view v(line_);
      v.remove_prefix(5);
      if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (has_data_) data_ += '\n';
      data_.append(v);
      has_data_ = true;
    }
    line_.clear();
  }
}

StreamEvent ParseStreamEvent(std::string_view data) {
  StreamEvent ev;
  if (data == "[DONE]") {
    ev.done = true;
    return ev;
  }
  nlohmann::json j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    ev.error = StrCat("malformed stream event: ", data.substr(0, 200));
    return ev;
  }
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    ev.error = e->is_object() && e->contains("message") && (*e)["message"].is_string()
                   ? (*e)["message"].get<std::string>()
                   : e->dump();
    return ev;
  }
  if (auto c = j.find("choices"); c != j.end() && c->is_array() && !c->empty() && (*c)[0].is_object()) {
    const nlohmann::json& choice = (*c)[0];
    if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) ev.finished = true;
    if (auto t = choice.find("text"); t != choice.end() && t->is_string() && !t->get_ref<const std::string&>().empty()) {
      ev.has_content = true;
    }
    if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
      for (const char* field : {"content", "reasoning_content"}) {
        if (auto t = d->find(field); t != d->end() && t->is_string() && !t->get_ref<const std::string&>().empty()) {
          ev.has_content = true;
        }
      }
    }
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    if (auto p = u->find("prompt_tokens"); p != u->end() && p->is_number_integer()) ev.prompt_tokens = p->get<int64_t>();
    if (auto p = u->find("completion_tokens"); p != u->end() && p->is_number_integer()) {
      ev.completion_tokens = p->get<int64_t>();
    }
  }
  return ev;
}

std::string ErrorMessageFromBody(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (auto e = j.find("error"); e != j.end()) {
      if (e->is_object() && e->contains("message") && (*e)["message"].is_string()) return (*e)["message"];
      if (e->is_string()) return e->get<std::string>();
    }
    if (auto m = j.find("message"); m != j.end() && m->is_string()) return m->get<std::string>();
  }
  std::string s(body.substr(0, 300));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

namespace {

Status Unavailable(std::string_view msg) { return absl::UnavailableError(ToAbsl(msg)); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string HostHeader(const BaseUrl& b) {
  const bool v6 = b.host.find(':') != std::string::npos;
  return StrCat(v6 ? "[" : "", b.host, v6 ? "]" : "", b.port == "80" ? "" : StrCat(":", b.port));
}

std::string DescribeError(const beast::error_code& ec, std::string_view stage, std::chrono::seconds timeout) {
  if (ec == beast::error::timeout) return StrCat(stage, ": no progress for ", timeout.count(), " s (timed out)");
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) return StrCat(stage, ": the server closed the connection");
  return StrCat(stage, ": ", ec.message());
}

struct Shared {
  const ClientOptions* options;
  tcp::resolver::results_type endpoints;
  std::string target;
  Clock::time_point t0;
};

asio::awaitable<void> OneRequest(const Shared& sh, const std::string& body, int64_t planned_prompt_len,
                                 RequestResult& r) {
  const auto timeout = sh.options->timeout;
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  const Clock::time_point start = Clock::now();
  r.start = Seconds(start - sh.t0);
  beast::error_code ec;
  auto fail = [&](std::string why) {
    r.success = false;
    r.error = std::move(why);
    r.e2el = Seconds(Clock::now() - start);
  };

  stream.expires_after(timeout);
  co_await stream.async_connect(sh.endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    fail(DescribeError(ec, "connect", timeout));
    co_return;
  }
  stream.socket().set_option(tcp::no_delay(true), ec);

  bhttp::request<bhttp::string_body> req{bhttp::verb::post, sh.target, 11};
  req.set(bhttp::field::host, HostHeader(sh.options->base));
  req.set(bhttp::field::user_agent, "pagellm-bench");
  req.set(bhttp::field::content_type, "application/json");
  req.set(bhttp::field::accept, "text/event-stream");
  if (!sh.options->api_key.empty()) req.set(bhttp::field::authorization, StrCat("Bearer ", sh.options->api_key));
  req.body() = body;
  req.prepare_payload();
  stream.expires_after(timeout);
  co_await bhttp::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    fail(DescribeError(ec, "send", timeout));
    co_return;
  }

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  stream.expires_after(timeout);
  co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    fail(DescribeError(ec, "reading the response", timeout));
    co_return;
  }
  const int status = static_cast<int>(parser.get().result_int());
  std::string error_body;
  SseParser sse;
  bool done = false, saw_content = false, saw_finish = false;
  std::optional<int64_t> usage_prompt, usage_completion;
  int64_t content_chunks = 0;
  Clock::time_point last_content{};
  std::string stream_error;
  std::vector<char> chunk(64 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    stream.expires_after(timeout);
    co_await bhttp::async_read_some(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    const size_t got = chunk.size() - parser.get().body().size;
    const Clock::time_point now = Clock::now();
    if (status != 200) {
      if (error_body.size() < 64 * 1024) error_body.append(chunk.data(), got);
    } else {
      sse.Feed(std::string_view(chunk.data(), got), [&](std::string_view data) {
        if (done || !stream_error.empty()) return;
        StreamEvent ev = ParseStreamEvent(data);
        if (!ev.error.empty()) {
          stream_error = ev.error;
          return;
        }
        if (ev.done) {
          done = true;
          return;
        }
        saw_finish |= ev.finished;
        if (ev.prompt_tokens) usage_prompt = ev.prompt_tokens;
        if (ev.completion_tokens) usage_completion = ev.completion_tokens;
        if (ev.has_content) {
          ++content_chunks;
          if (!saw_content) {
            r.ttft = Seconds(now - start);
            saw_content = true;
          } else {
            r.itl.push_back(Seconds(now - last_content));
          }
          last_content = now;
        }
      });
    }
    if (ec) {
      if (status == 200 && done) break;  // [DONE] came; a close after it is fine
      fail(DescribeError(ec, status == 200 ? "reading the stream" : "reading the error", timeout));
      if (status != 200) r.error = StrCat("HTTP ", status, ": ", ErrorMessageFromBody(error_body));
      co_return;
    }
    if (done || !stream_error.empty()) break;
  }
  r.e2el = Seconds(Clock::now() - start);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  if (status != 200) {
    fail(StrCat("HTTP ", status, ": ", ErrorMessageFromBody(error_body)));
    co_return;
  }
  if (!stream_error.empty()) {
    fail(StrCat("error event: ", stream_error));
    co_return;
  }
  // Servers that end the response after the finish_reason without [DONE] are accepted.
  if (!done && !(saw_finish && parser.is_done())) {
    fail("the stream ended without data: [DONE] or a finish_reason");
    co_return;
  }
  r.success = true;
  r.prompt_tokens = usage_prompt.value_or(planned_prompt_len);
  r.output_tokens = usage_completion.value_or(content_chunks);
  if (!saw_content) r.ttft = r.e2el;
}

}  // namespace

StatusOr<StreamingRun> RunStreamingRequests(const ClientOptions& options, const std::vector<std::string>& bodies,
                                            std::span<const int64_t> planned_prompt_lens,
                                            const std::function<void(size_t)>& progress) {
  asio::io_context io;
  Shared sh;
  sh.options = &options;
  sh.target = options.base.prefix + options.endpoint;
  {
    tcp::resolver resolver(io);
    beast::error_code ec;
    sh.endpoints = resolver.resolve(options.base.host, options.base.port, ec);
    if (ec) return Unavailable(StrCat("cannot resolve ", options.base.host, ": ", ec.message()));
  }
  StreamingRun run;
  run.results.resize(bodies.size());
  const std::vector<double> arrivals =
      ArrivalTimes(bodies.size(), options.request_rate, options.burstiness, options.seed);
  size_t in_flight = 0, finished = 0;
  Clock::time_point last_end{};
  asio::steady_timer slot_freed(io);  // the dispatcher waits on it for a free slot

  auto dispatcher = [&]() -> asio::awaitable<void> {
    asio::steady_timer arrival(io);
    sh.t0 = Clock::now();
    for (size_t i = 0; i < bodies.size(); ++i) {
      const auto when = sh.t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(arrivals[i]));
      if (when > Clock::now()) {
        arrival.expires_at(when);
        beast::error_code ec;
        co_await arrival.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      while (options.max_concurrency > 0 && in_flight >= static_cast<size_t>(options.max_concurrency)) {
        slot_freed.expires_at(Clock::time_point::max());
        beast::error_code ec;
        co_await slot_freed.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      ++in_flight;
      const int64_t planned = i < planned_prompt_lens.size() ? planned_prompt_lens[i] : 0;
      asio::co_spawn(io, OneRequest(sh, bodies[i], planned, run.results[i]), [&, i](std::exception_ptr e) {
        if (e) {
          RequestResult& r = run.results[i];
          r.success = false;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            r.error = StrCat("client error: ", ex.what());
          } catch (...) {
            r.error = "client error";
          }
        }
        --in_flight;
        ++finished;
        last_end = Clock::now();
        slot_freed.cancel();
        if (progress) progress(finished);
      });
    }
  };
  asio::co_spawn(io, dispatcher(), asio::detached);
  io.run();
  run.duration = finished == 0 ? 0 : Seconds(last_end - sh.t0);
  return run;
}

StatusOr<HttpResponse> HttpGet(const BaseUrl& base, std::string_view target, std::string_view api_key,
                               std::chrono::milliseconds timeout) {
  asio::io_context io;
  StatusOr<HttpResponse> result = Internal("not run");
  auto get = [&]() -> asio::awaitable<void> {
    beast::error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = co_await resolver.async_resolve(base.host, base.port, asio::redirect_error(asio::use_awaitable, ec));
    const std::string where = StrCat("http://", HostHeader(base), base.prefix, target);
    if (ec) {
      result = Unavailable(StrCat(where, ": cannot resolve ", base.host, ": ", ec.message()));
      co_return;
    }
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      bhttp::request<bhttp::empty_body> req{bhttp::verb::get, StrCat(base.prefix, target), 11};
      req.set(bhttp::field::host, HostHeader(base));
      req.set(bhttp::field::user_agent, "pagellm-bench");
      if (!api_key.empty()) req.set(bhttp::field::authorization, StrCat("Bearer ", api_key));
      stream.expires_after(timeout);
      co_await bhttp::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    if (!ec) {
      stream.expires_after(timeout);
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
      const std::string why = ec == beast::error::timeout ? std::string("timed out") : ec.message();
      result = Unavailable(StrCat(where, ": ", why));
      co_return;
    }
    result = HttpResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
  };
  asio::co_spawn(io, get(), asio::detached);
  io.run();
  return result;
}

}  // namespace pagellm::bench
