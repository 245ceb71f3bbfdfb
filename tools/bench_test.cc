// `pagellm bench`: the metric math against hand-computed values, the ShareGPT loader, the SSE
// client pieces, and the three subcommands run as a user runs them (latency and throughput on
// stories260K; serve against a `pagellm serve` started here). Nothing asserts on timings: only
// counts, shapes and that the numbers are finite and positive.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <tuple>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/testing/testing.h"
#include "tools/bench_dataset.h"
#include "tools/bench_http.h"
#include "tools/bench_metrics.h"

namespace pagellm::bench {
namespace {

using Json = nlohmann::json;

// ---- statistics ----

TEST(BenchStatsTest, MeanStdAndPercentilesMatchHandComputedValues) {
  const std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(Mean(v), 5.0);
  EXPECT_DOUBLE_EQ(StdDev(v, 0), 2.0);                       // population
  EXPECT_DOUBLE_EQ(StdDev(v, 1), std::sqrt(32.0 / 7.0));     // sample
  const std::vector<double> w = {4, 1, 3, 2};                // unsorted on purpose
  EXPECT_DOUBLE_EQ(Percentile(w, 0), 1.0);
  EXPECT_DOUBLE_EQ(Percentile(w, 50), 2.5);                  // rank 1.5
  EXPECT_DOUBLE_EQ(Percentile(w, 99), 3.97);                 // rank 2.97 -> 3 + 0.97
  EXPECT_DOUBLE_EQ(Percentile(w, 100), 4.0);
  EXPECT_DOUBLE_EQ(Percentile(std::vector<double>{7}, 99), 7.0);
  EXPECT_EQ(Percentile(std::vector<double>{}, 50), 0.0);
  EXPECT_EQ(StdDev(std::vector<double>{3}, 1), 0.0);
  const std::vector<double> ps = {90};
  const Summary s = Summarize(w, ps);
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_DOUBLE_EQ(s.min, 1.0);
  EXPECT_DOUBLE_EQ(s.max, 4.0);
  ASSERT_EQ(s.percentiles.size(), 1u);
  EXPECT_DOUBLE_EQ(s.percentiles[0].second, 3.7);  // rank 2.7
}

TEST(BenchStatsTest, PercentileListsAndRatesParse) {
  EXPECT_EQ(*ParsePercentiles("50, 90,99.9"), (std::vector<double>{50, 90, 99.9}));
  EXPECT_FALSE(ParsePercentiles("0").ok());
  EXPECT_FALSE(ParsePercentiles("101").ok());
  EXPECT_FALSE(ParsePercentiles("x").ok());
  EXPECT_FALSE(ParsePercentiles("").ok());
  EXPECT_TRUE(std::isinf(*ParseRate("inf")));
  EXPECT_DOUBLE_EQ(*ParseRate("2.5"), 2.5);
  EXPECT_FALSE(ParseRate("0").ok());
  EXPECT_FALSE(ParseRate("-1").ok());
  EXPECT_FALSE(ParseRate("fast").ok());
}

// ---- per-request metrics, goodput ----

RequestResult Ok(double ttft, double e2el, int64_t out, int64_t in = 10) {
  RequestResult r;
  r.success = true;
  r.ttft = ttft;
  r.e2el = e2el;
  r.output_tokens = out;
  r.prompt_tokens = in;
  return r;
}

TEST(BenchMetricsTest, TpotExcludesTheFirstToken) {
  EXPECT_DOUBLE_EQ(*Tpot(Ok(0.1, 1.0, 10)), 0.1);  // (1.0 - 0.1) / 9
  EXPECT_DOUBLE_EQ(*Tpot(Ok(0.2, 0.5, 2)), 0.3);
  EXPECT_FALSE(Tpot(Ok(0.2, 0.2, 1)).has_value());
  EXPECT_FALSE(Tpot(Ok(0.2, 0.2, 0)).has_value());
}

TEST(BenchMetricsTest, GoodputCountsRequestsMeetingEverySlo) {
  GoodputSlo slo;
  ASSERT_TRUE(AddGoodputSlo("ttft:100", &slo).ok());
  ASSERT_TRUE(AddGoodputSlo("tpot:60 e2el:1000", &slo).ok());
  EXPECT_EQ(*slo.ttft_ms, 100);
  EXPECT_EQ(*slo.tpot_ms, 60);
  EXPECT_EQ(*slo.e2el_ms, 1000);
  std::vector<RequestResult> rs = {
      Ok(0.05, 0.50, 10, 10),  // tpot 50 ms: good
      Ok(0.30, 0.50, 10, 20),  // ttft 300 ms: bad
      Ok(0.05, 0.95, 10, 30),  // tpot 100 ms: bad
      Ok(0.05, 0.05, 1, 40),   // one token, no TPOT: good
  };
  RequestResult failed;
  failed.error = "HTTP 500";
  rs.push_back(failed);
  EXPECT_TRUE(MeetsSlo(rs[0], slo));
  EXPECT_FALSE(MeetsSlo(rs[1], slo));
  EXPECT_FALSE(MeetsSlo(rs[2], slo));
  EXPECT_TRUE(MeetsSlo(rs[3], slo));
  EXPECT_FALSE(MeetsSlo(rs[4], slo));

  const std::vector<double> ps = {99};
  const ServeReport rep = ComputeServeReport(rs, 2.0, slo, ps);
  EXPECT_EQ(rep.completed, 4);
  EXPECT_EQ(rep.failed, 1);
  EXPECT_EQ(rep.good_requests, 2);
  ASSERT_TRUE(rep.goodput.has_value());
  EXPECT_DOUBLE_EQ(*rep.goodput, 1.0);
  EXPECT_EQ(rep.total_input_tokens, 100);
  EXPECT_EQ(rep.total_output_tokens, 31);
  EXPECT_DOUBLE_EQ(rep.request_throughput, 2.0);
  EXPECT_DOUBLE_EQ(rep.output_throughput, 15.5);
  EXPECT_DOUBLE_EQ(rep.total_token_throughput, 65.5);
  EXPECT_DOUBLE_EQ(rep.ttft_ms.mean, (50 + 300 + 50 + 50) / 4.0);
  EXPECT_DOUBLE_EQ(rep.ttft_ms.median, 50);
  EXPECT_EQ(rep.tpot_ms.count, 3u);  // the one-token request has no TPOT
  EXPECT_NEAR(rep.tpot_ms.mean, (50 + 200.0 / 9 + 100) / 3, 1e-9);

  const Json j = ServeReportJson(rep);
  EXPECT_EQ(j["completed"], 4);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_DOUBLE_EQ(j["request_goodput"].get<double>(), 1.0);
  EXPECT_TRUE(j.contains("p99_itl_ms"));
  EXPECT_TRUE(j.contains("median_e2el_ms"));
  const std::string table = FormatServeReport(rep, "t");
  EXPECT_NE(table.find("Request goodput (req/s):"), std::string::npos) << table;
  EXPECT_NE(table.find("P99 TTFT (ms):"), std::string::npos) << table;

  // Without SLOs there is no goodput.
  EXPECT_FALSE(ComputeServeReport(rs, 2.0, GoodputSlo{}, ps).goodput.has_value());
}

TEST(BenchMetricsTest, BadGoodputSpecsAreRefusedWithAMessage) {
  for (const char* bad : {"ttft", "ttft:", "ttft:abc", "ttft:-5", "latency:10", ""}) {
    GoodputSlo slo;
    const Status s = AddGoodputSlo(bad, &slo);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(std::string(s.message()).find("goodput"), std::string::npos) << s.message();
  }
}

// ---- arrivals ----

TEST(BenchArrivalsTest, PoissonAndGammaHaveTheRequestedMeanRate) {
  const size_t n = 20000;
  for (double burstiness : {1.0, 0.5, 4.0}) {
    const std::vector<double> t = ArrivalTimes(n, 10.0, burstiness, 7);
    ASSERT_EQ(t.size(), n);
    EXPECT_EQ(t[0], 0.0);
    std::vector<double> gaps;
    for (size_t i = 1; i < n; ++i) {
      ASSERT_GE(t[i], t[i - 1]);
      gaps.push_back(t[i] - t[i - 1]);
    }
    // Mean gap 1 / rate; squared coefficient of variation 1 / burstiness for a gamma.
    EXPECT_NEAR(Mean(gaps), 0.1, 0.1 * 0.05) << burstiness;
    const double cv2 = std::pow(StdDev(gaps) / Mean(gaps), 2);
    EXPECT_NEAR(cv2, 1.0 / burstiness, 0.15 / burstiness) << burstiness;
    EXPECT_EQ(ArrivalTimes(n, 10.0, burstiness, 7), t);  // same seed, same schedule
  }
  EXPECT_NE(ArrivalTimes(100, 10.0, 1.0, 1), ArrivalTimes(100, 10.0, 1.0, 2));
  for (double x : ArrivalTimes(50, std::numeric_limits<double>::infinity(), 1.0, 1)) EXPECT_EQ(x, 0.0);
}

// ---- random workloads ----

TEST(BenchWorkloadTest, RandomLengthsAndTokens) {
  std::mt19937_64 rng(3);
  for (int64_t v : SampleLengths(500, 100, 0.0, rng)) EXPECT_EQ(v, 100);
  bool saw_low = false, saw_high = false;
  for (int64_t v : SampleLengths(2000, 100, 0.5, rng)) {
    EXPECT_GE(v, 50);
    EXPECT_LE(v, 150);
    saw_low |= v < 60;
    saw_high |= v > 140;
  }
  EXPECT_TRUE(saw_low && saw_high);
  for (int64_t v : SampleLengths(100, 1, 0.9, rng)) EXPECT_GE(v, 1);

  const std::vector<int32_t> excluded = {1, 2};
  const auto ids = RandomTokenIds(5000, 8, excluded, rng);
  ASSERT_EQ(ids.size(), 5000u);
  std::set<int32_t> seen(ids.begin(), ids.end());
  EXPECT_EQ(seen, (std::set<int32_t>{0, 3, 4, 5, 6, 7}));

  const std::string words = RandomWords(12, rng);
  EXPECT_EQ(std::count(words.begin(), words.end(), ' '), 11);
  std::mt19937_64 a(5), b(5);
  EXPECT_EQ(RandomWords(20, a), RandomWords(20, b));
}

// ---- ShareGPT ----

constexpr char kShareGpt[] = R"([
  {"id": "a", "conversations": [{"from": "human", "value": "one two three four five"},
                                {"from": "gpt", "value": "six seven eight nine ten eleven"}]},
  {"id": "b", "conversations": [{"from": "human", "value": "only a question"}]},
  {"id": "c", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "a b c d e"}]},
  {"id": "d", "conversations": [{"from": "human", "value": "w w w w w w w w w w"},
                                {"from": "gpt", "value": "x x x x"}, {"from": "human", "value": "more"}]}
])";

StatusOr<int64_t> CountWords(const std::string& s) {
  std::istringstream in(s);
  int64_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

TEST(BenchShareGptTest, LoadsTwoTurnConversationsFromAFile) {
  testing::TempDir dir;
  const std::string path = (dir / "sharegpt.json").string();
  std::ofstream(path) << kShareGpt;
  auto convs = LoadShareGpt(path);
  ASSERT_TRUE(convs.ok()) << convs.status();
  ASSERT_EQ(convs->size(), 3u);  // "b" has one turn
  EXPECT_EQ((*convs)[0].prompt, "one two three four five");
  EXPECT_EQ((*convs)[0].completion, "six seven eight nine ten eleven");
  EXPECT_EQ((*convs)[2].completion, "x x x x");
}

TEST(BenchShareGptTest, SamplingFiltersShortAndLongConversationsAndReuses) {
  auto convs = ParseShareGpt(kShareGpt, "fixture");
  ASSERT_TRUE(convs.ok());
  // "c" has a 1-word prompt (< 4): skipped. "a" is 5 + 6, "d" is 10 + 4.
  auto picked = SampleShareGpt(*convs, 5, 1, CountWords, /*max_len=*/100, /*fixed_output_len=*/0);
  ASSERT_TRUE(picked.ok()) << picked.status();
  ASSERT_EQ(picked->size(), 5u);
  for (const BenchRequest& r : *picked) {
    EXPECT_TRUE((r.prompt_len == 5 && r.output_len == 6) || (r.prompt_len == 10 && r.output_len == 4))
        << r.prompt_text;
  }
  // max_len 12 leaves only "a"; a fixed output length replaces the answer's.
  picked = SampleShareGpt(*convs, 2, 1, CountWords, 12, 0);
  ASSERT_TRUE(picked.ok());
  for (const BenchRequest& r : *picked) EXPECT_EQ(r.prompt_len, 5);
  picked = SampleShareGpt(*convs, 3, 1, CountWords, 100, 7);
  ASSERT_TRUE(picked.ok());
  for (const BenchRequest& r : *picked) EXPECT_EQ(r.output_len, 7);
  // Nothing usable: an error that says why.
  picked = SampleShareGpt(*convs, 3, 1, CountWords, 8, 0);
  ASSERT_FALSE(picked.ok());
  EXPECT_NE(std::string(picked.status().message()).find("no usable conversation"), std::string::npos);
}

TEST(BenchShareGptTest, MalformedInputGivesAClearError) {
  const std::pair<std::string, std::string> cases[] = {
      {"[{\"conversations\": [", "not valid JSON"},
      {"{\"conversations\": []}", "JSON list"},
      {"[1]", "entry 0 is not an object"},
      {"[{\"id\": 1}]", "entry 0 has no \"conversations\""},
      {"[{\"conversations\": {}}]", "not a list"},
      {"[{\"conversations\": [{\"from\": \"human\", \"value\": 3}, {\"value\": \"x\"}]}]", "turn 0"},
      {"[{\"conversations\": [\"hi\", \"there\"]}]", "turn 0 is not an object"},
  };
  for (const auto& [json, needle] : cases) {
    auto r = ParseShareGpt(json, "bad.json");
    ASSERT_FALSE(r.ok()) << json;
    EXPECT_NE(std::string(r.status().message()).find(needle), std::string::npos) << r.status().message();
    EXPECT_NE(std::string(r.status().message()).find("bad.json"), std::string::npos) << r.status().message();
  }
  auto missing = LoadShareGpt("/nonexistent/sharegpt.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("/nonexistent/sharegpt.json"), std::string::npos);
}

// ---- SSE client pieces ----

TEST(BenchClientTest, SseParserHandlesSplitEventsAndCrLf) {
  const std::string stream =
      ": comment\r\n"
      "data: {\"a\":1}\r\n\r\n"
      "event: x\ndata:{\"b\":2}\n\n"
      "data: line1\ndata: line2\n\n"
      "data: [DONE]\n\n";
  for (size_t piece : {size_t{1}, size_t{3}, stream.size()}) {
    SseParser p;
    std::vector<std::string> events;
    for (size_t i = 0; i < stream.size(); i += piece) {
      p.Feed(std::string_view(stream).substr(i, piece), [&](std::string_view d) { events.emplace_back(d); });
    }
    EXPECT_EQ(events, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "line1\nline2", "[DONE]"})) << piece;
  }
}

TEST(BenchClientTest, StreamEventsAreClassified) {
  EXPECT_TRUE(ParseStreamEvent("[DONE]").done);
  StreamEvent e = ParseStreamEvent(R"({"choices":[{"index":0,"text":"Once"}]})");
  EXPECT_TRUE(e.has_content);
  EXPECT_TRUE(e.error.empty());
  EXPECT_FALSE(ParseStreamEvent(R"({"choices":[{"index":0,"text":""}]})").has_content);
  EXPECT_FALSE(ParseStreamEvent(R"({"choices":[{"delta":{"role":"assistant","content":""}}]})").has_content);
  EXPECT_TRUE(ParseStreamEvent(R"({"choices":[{"delta":{"content":"Hi"}}]})").has_content);
  EXPECT_FALSE(ParseStreamEvent(R"({"choices":[{"text":"x","finish_reason":null}]})").finished);
  EXPECT_TRUE(ParseStreamEvent(R"({"choices":[{"text":"","finish_reason":"stop"}]})").finished);
  e = ParseStreamEvent(R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":12,"total_tokens":19}})");
  EXPECT_FALSE(e.has_content);
  EXPECT_EQ(*e.prompt_tokens, 7);
  EXPECT_EQ(*e.completion_tokens, 12);
  EXPECT_EQ(ParseStreamEvent(R"({"error":{"message":"boom","type":"x"}})").error, "boom");
  EXPECT_NE(ParseStreamEvent("not json").error.find("malformed"), std::string::npos);
  EXPECT_EQ(ErrorMessageFromBody(R"({"error":{"message":"bad key"}})"), "bad key");
  EXPECT_EQ(ErrorMessageFromBody("plain\ntext"), "plain text");
}

TEST(BenchClientTest, BaseUrls) {
  auto b = ParseBaseUrl("http://127.0.0.1:8000");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "127.0.0.1");
  EXPECT_EQ(b->port, "8000");
  EXPECT_EQ(b->prefix, "");
  b = ParseBaseUrl("http://example.com/api/");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, "80");
  EXPECT_EQ(b->prefix, "/api");
  b = ParseBaseUrl("http://[::1]:9000");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, "9000");
  for (const char* bad : {"https://x", "127.0.0.1:8000", "http://", "http://h:99999", "http://h:ab"}) {
    EXPECT_FALSE(ParseBaseUrl(bad).ok()) << bad;
  }
}

TEST(BenchClientTest, ARefusedConnectionIsAFailedRequestNotAHang) {
  // Find a port nobody listens on: bind, note it, close.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  ClientOptions o;
  o.base = *ParseBaseUrl(StrCat("http://127.0.0.1:", ntohs(addr.sin_port)));
  o.request_rate = std::numeric_limits<double>::infinity();
  o.timeout = std::chrono::seconds(10);
  const std::vector<std::string> bodies(3, "{}");
  const std::vector<int64_t> planned(3, 4);
  size_t last_progress = 0;
  auto run = RunStreamingRequests(o, bodies, planned, [&](size_t n) { last_progress = n; });
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(last_progress, 3u);
  for (const RequestResult& r : run->results) {
    EXPECT_FALSE(r.success);
    EXPECT_NE(r.error.find("connect"), std::string::npos) << r.error;
  }
  EXPECT_FALSE(HttpGet(o.base, "/v1/models", "", std::chrono::seconds(5)).ok());
}

// A one-shot fake server: accepts connections one after another and answers each with the next
// canned bytes (then closes), to see the client cope with broken servers.
class CannedServer {
 public:
  explicit CannedServer(std::vector<std::string> replies) : replies_(std::move(replies)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] {
      for (const std::string& reply : replies_) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {  // headers; the small body comes with them
          const ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          req.append(buf, static_cast<size_t>(n));
        }
        ::write(c, reply.data(), reply.size());
        ::shutdown(c, SHUT_RDWR);
        ::close(c);
      }
    });
  }
  ~CannedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  std::vector<std::string> replies_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

std::string Chunked(const std::string& status, const std::string& payload) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx", payload.size());
  return "HTTP/1.1 " + status + "\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
         size + "\r\n" + payload + "\r\n0\r\n\r\n";
}

TEST(BenchClientTest, BrokenServersGiveFailedRequestsWithReasons) {
  const std::string good =
      "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[{\"text\":\"b\"}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n";
  const std::string json_error = R"({"error":{"message":"overloaded","type":"server_error"}})";
  CannedServer server({
      Chunked("200 OK", good),
      Chunked("200 OK", "data: {\"choices\":[{\"text\":\"a\"}]}\n\n"),  // no [DONE]
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\ndata: {\"choi",  // cut mid-chunk
      "HTTP/1.1 500 Internal Server Error\r\nContent-Length: " + std::to_string(json_error.size()) +
          "\r\n\r\n" + json_error,
      Chunked("200 OK", "data: {\"error\":{\"message\":\"engine died\"}}\n\n"),
      "this is not HTTP at all\r\n\r\n",
      // No [DONE], but a finish_reason and a complete response: accepted (some servers do this).
      Chunked("200 OK", "data: {\"choices\":[{\"text\":\"a\",\"finish_reason\":null}]}\n\n"
                        "data: {\"choices\":[{\"text\":\"b\",\"finish_reason\":\"length\"}]}\n\n"),
  });
  ClientOptions o;
  o.base = *ParseBaseUrl(StrCat("http://127.0.0.1:", server.port()));
  o.request_rate = std::numeric_limits<double>::infinity();
  o.max_concurrency = 1;  // one connection at a time, in order
  o.timeout = std::chrono::seconds(20);
  const std::vector<std::string> bodies(7, "{}");
  const std::vector<int64_t> planned(7, 9);
  auto run = RunStreamingRequests(o, bodies, planned, nullptr);
  ASSERT_TRUE(run.ok()) << run.status();
  const auto& r = run->results;
  ASSERT_TRUE(r[0].success) << r[0].error;
  EXPECT_EQ(r[0].prompt_tokens, 5);  // usage wins over the planned 9
  EXPECT_EQ(r[0].output_tokens, 3);  // usage wins over the 2 content chunks
  EXPECT_EQ(r[0].itl.size(), 1u);
  const std::pair<size_t, std::string> failures[] = {
      {1, "[DONE]"}, {2, "reading the stream"}, {3, "HTTP 500: overloaded"}, {4, "engine died"}, {5, "reading the response"}};
  for (const auto& [i, needle] : failures) {
    EXPECT_FALSE(r[i].success) << i;
    EXPECT_NE(r[i].error.find(needle), std::string::npos) << i << ": " << r[i].error;
  }
  ASSERT_TRUE(r[6].success) << r[6].error;
  EXPECT_EQ(r[6].output_tokens, 2);  // no usage: the content chunks are counted
  EXPECT_EQ(r[6].prompt_tokens, 9);  // no usage: the planned length
  const ServeReport rep = ComputeServeReport(r, run->duration, GoodputSlo{}, std::vector<double>{99});
  EXPECT_EQ(rep.completed, 2);
  EXPECT_EQ(rep.failed, 5);
}

TEST(BenchClientTest, ASilentServerTimesOut) {
  // Listening but never accepting: the connection completes in the kernel, no answer ever comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::listen(fd, 4);
  ClientOptions o;
  o.base = *ParseBaseUrl(StrCat("http://127.0.0.1:", ntohs(addr.sin_port)));
  o.request_rate = std::numeric_limits<double>::infinity();
  o.timeout = std::chrono::seconds(1);
  auto run = RunStreamingRequests(o, {"{}"}, std::vector<int64_t>{1}, nullptr);
  ::close(fd);
  ASSERT_TRUE(run.ok());
  EXPECT_FALSE(run->results[0].success);
  EXPECT_NE(run->results[0].error.find("timed out"), std::string::npos) << run->results[0].error;
}

// ---- the command, end to end ----

using CliRun = testing::CommandResult;

CliRun RunPagellm(const std::string& args) { return testing::RunCommand(std::string(PAGELLM_BINARY) + " " + args); }

Json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  return Json::parse(in, nullptr, false);
}

bool FinitePositive(const Json& v) { return v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() > 0; }

TEST(BenchCliTest, LatencyReportsPrefillAndDecodeSpeed) {
  PAGELLM_REQUIRE_SHARED(model, "models/stories260K/hf");
  testing::TempDir dir;
  const auto json = dir / "latency.json";
  const CliRun r = RunPagellm("bench latency '" + model.string() +
                              "' --input-len 32 --output-len 8 --repeat 3 --warmup 1 --threads 1 --output-json " +
                              json.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| pp32  "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| tg8  "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" ± "), std::string::npos) << r.out;
  const Json j = ReadJson(json);
  ASSERT_FALSE(j.is_discarded());
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["test"], "pp32");
  EXPECT_EQ(j["results"][0]["n_tokens"], 32);
  EXPECT_EQ(j["results"][1]["test"], "tg8");
  EXPECT_EQ(j["results"][1]["n_tokens"], 7);  // tokens after the first
  for (const Json& t : j["results"]) {
    EXPECT_EQ(t["tokens_per_second"].size(), 3u);  // the warmup run is not counted
    EXPECT_TRUE(FinitePositive(t["tokens_per_second_mean"])) << t.dump();
    EXPECT_TRUE(t["tokens_per_second_std"].is_number());
  }
}

// --profile: every op of every measured forward pass is counted (warmup runs are not), with the
// weight bytes and FLOPs that stories260K's shapes give (5 layers, hidden 64, 4 KV heads of 8, F32,
// a tied 512 x 64 head), and the tables name the ops.
TEST(BenchCliTest, LatencyProfileCountsEveryOp) {
  PAGELLM_REQUIRE_SHARED(model, "models/stories260K/hf");
  testing::TempDir dir;
  const auto json = dir / "latency.json";
  const CliRun r = RunPagellm("bench latency '" + model.string() +
                              "' --input-len 32 --output-len 8 --repeat 3 --warmup 1 --threads 2 --profile --output-json " +
                              json.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* text : {"profile of pp32: 3 forward passes, 32.0 tokens each", "profile of tg8: 24 forward passes, 1.0 tokens each",
                           "| attention |", "| gate_up matmul |", "| **forward pass** |", "outside the forward pass"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  }
  const Json j = ReadJson(json);
  ASSERT_FALSE(j.is_discarded());
  constexpr int64_t kLayers = 5;
  constexpr double kQkvElems = 64 * 64 + 2 * 32 * 64, kGateUpElems = 2 * 172 * 64, kHeadElems = 512 * 64;
  // pp32: one forward of 32 tokens per run; tg8: a one-token prompt, then 7 decode steps.
  for (const auto& [test, forwards, tokens_per] : {std::tuple{"pp32", 3, 32}, std::tuple{"tg8", 24, 1}}) {
    SCOPED_TRACE(test);
    const Json* res = nullptr;
    for (const Json& t : j["results"]) {
      if (t["test"] == test) res = &t;
    }
    ASSERT_NE(res, nullptr);
    const Json& p = (*res)["profile"];
    EXPECT_EQ(p["forwards"], forwards);
    EXPECT_EQ(p["tokens"], forwards * tokens_per);
    EXPECT_TRUE(FinitePositive(p["read_gbs"])) << p.dump();
    EXPECT_EQ(p["timed_steps"], std::string(test) == "pp32" ? 3 : 21);
    double op_seconds = 0;
    std::map<std::string, Json> ops;
    for (const Json& o : p["ops"]) {
      ops[o["op"]] = o;
      EXPECT_GE(o["seconds"].get<double>(), 0.0);
      op_seconds += o["seconds"].get<double>();
    }
    EXPECT_EQ(ops.size(), 10u);  // every op, Qwen3's q/k norms aside (none here)
    EXPECT_LE(op_seconds, p["forward_seconds"].get<double>() * (1 + 1e-9));
    EXPECT_EQ(ops["rms_norm"]["calls"], forwards * (2 * kLayers + 1));
    EXPECT_EQ(ops["attention"]["calls"], forwards * kLayers);
    EXPECT_EQ(ops["qkv matmul"]["weight_bytes"], forwards * kLayers * kQkvElems * 4);
    EXPECT_EQ(ops["qkv matmul"]["flops"], 2.0 * forwards * tokens_per * kLayers * kQkvElems);
    EXPECT_EQ(ops["gate_up matmul"]["flops"], 2.0 * forwards * tokens_per * kLayers * kGateUpElems);
    EXPECT_EQ(ops["lm_head matmul"]["calls"], forwards);
    EXPECT_EQ(ops["lm_head matmul"]["flops"], 2.0 * forwards * kHeadElems);  // one logits row per forward
  }
}

TEST(BenchCliTest, ThroughputCountsAreExact) {
  PAGELLM_REQUIRE_SHARED(model, "models/stories260K/hf");
  testing::TempDir dir;
  for (const std::string concurrency : {"", " --concurrency 3"}) {
    const auto json = dir / "throughput.json";
    const CliRun r = RunPagellm("bench throughput '" + model.string() +
                                "' --num-prompts 10 --input-len 16 --output-len 8 --threads 1 --output-json " +
                                json.string() + concurrency);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Throughput: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Total prompt tokens: 160\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Total output tokens: 80\n"), std::string::npos) << r.out;
    const Json j = ReadJson(json);
    ASSERT_FALSE(j.is_discarded());
    EXPECT_EQ(j["num_requests"], 10);
    EXPECT_EQ(j["total_prompt_tokens"], 160);
    EXPECT_EQ(j["total_output_tokens"], 80);
    EXPECT_TRUE(FinitePositive(j["requests_per_second"]));
    EXPECT_TRUE(FinitePositive(j["output_tokens_per_second"]));
    EXPECT_GT(j["tokens_per_second"].get<double>(), j["output_tokens_per_second"].get<double>());
  }
  // Random lengths: output tokens are exactly what was asked for (the warning never shows).
  const CliRun ranged = RunPagellm("bench throughput '" + model.string() +
                                   "' --num-prompts 6 --input-len 20 --output-len 10 --random-range-ratio 0.5 --threads 1");
  ASSERT_EQ(ranged.exit_code, 0) << ranged.err;
  EXPECT_EQ(ranged.err.find("warning"), std::string::npos) << ranged.err;
}

TEST(BenchCliTest, ThroughputOnAShareGptFile) {
  PAGELLM_REQUIRE_SHARED(model, "models/stories260K/hf");
  testing::TempDir dir;
  std::ofstream(dir / "sharegpt.json") << kShareGpt;
  const CliRun r = RunPagellm("bench throughput '" + model.string() + "' --dataset " + (dir / "sharegpt.json").string() +
                              " --num-prompts 4 --output-len 5 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Total output tokens: 20\n"), std::string::npos) << r.out;
}

TEST(BenchCliTest, BadInputExitsWithAMessage) {
  testing::TempDir dir;
  std::ofstream(dir / "bad.json") << "[{\"conversations\": 5}]";
  const std::pair<std::string, std::string> cases[] = {
      {"bench", "usage: pagellm bench"},
      {"bench frobnicate", "unknown subcommand 'frobnicate'"},
      {"bench latency --repeat 0", "--repeat"},
      {"bench latency --output-len 1", "--output-len"},
      {"bench latency --no-such-flag", "--no-such-flag"},
      {"bench throughput --dataset " + (dir / "bad.json").string(), "not a list"},
      {"bench throughput --dataset " + (dir / "missing.json").string(), "missing.json"},
      {"bench throughput --random-range-ratio 2", "--random-range-ratio"},
      {"bench serve --base-url https://127.0.0.1:1", "https is not supported"},
      {"bench serve --request-rate -3", "--request-rate"},
      {"bench serve --goodput ttft:abc", "goodput"},
      {"bench serve --dataset-name sharegpt", "--dataset-path"},
      {"bench serve --dataset-name nope", "--dataset-name"},
      {"bench serve --endpoint /v1/chat/completions --prompt-mode tokens", "/v1/completions"},
      {"bench serve --base-url http://127.0.0.1:1 --num-prompts 1", "cannot reach the server"},
  };
  for (const auto& [args, needle] : cases) {
    const CliRun r = RunPagellm(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
  }
  EXPECT_EQ(RunPagellm("bench serve --help").exit_code, 0);
}

// A `pagellm serve` on a free port for the serve benchmark; SIGTERM on destruction.
class LiveServer {
 public:
  LiveServer(const std::filesystem::path& model, const std::string& extra) {
    log_ = dir_ / "serve.log";
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, STDERR_FILENO);
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDOUT_FILENO);
      const std::string cmd = StrCat("exec '", PAGELLM_BINARY, "' serve '", model.string(), "' --port 0 ", extra);
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const std::regex listening(R"(listening on http://[^:]+:(\d+))");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      const std::string text = Log();
      if (std::regex_search(text, m, listening)) {
        port_ = std::stoi(m[1]);
        return;
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~LiveServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 1500; ++i) {  // up to 30 s
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }
  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  testing::TempDir dir_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST(BenchCliTest, ServeAgainstALivePagellmServer) {
  PAGELLM_REQUIRE_SHARED(model, "models/stories260K/hf");
  LiveServer server(model, StrCat("--threads 1 --api-key sekrit --chat-template '", PAGELLM_SOURCE_DIR,
                                  "/templates/completion.jinja'"));
  ASSERT_GT(server.port(), 0) << server.Log();
  const std::string url = StrCat("--base-url http://127.0.0.1:", server.port());
  testing::TempDir dir;
  const auto json = dir / "serve.json";

  // Token-id prompts, Poisson arrivals, a concurrency cap and goodput SLOs.
  CliRun r = RunPagellm(StrCat("bench serve ", url,
                               " --api-key sekrit --ready-timeout 120 --num-prompts 20 --random-input-len 24"
                               " --random-output-len 12 --request-rate 100 --burstiness 1 --max-concurrency 6 --seed 3"
                               " --goodput ttft:600000 tpot:600000 --metric-percentiles 50,99 --output-json ",
                               json.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err << "\n" << server.Log();
  EXPECT_NE(r.out.find("Successful requests:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Mean TPOT (ms):"), std::string::npos) << r.out;
  Json j = ReadJson(json);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["completed"], 20) << j["errors"].dump();
  EXPECT_EQ(j["failed"], 0);
  EXPECT_EQ(j["total_input_tokens"], 20 * 24);
  EXPECT_EQ(j["total_output_tokens"], 20 * 12);
  EXPECT_EQ(j["model_id"], "hf");
  for (const Json& n : j["output_lens"]) EXPECT_EQ(n, 12);
  for (const Json& n : j["input_lens"]) EXPECT_EQ(n, 24);
  for (const Json& itl : j["itls"]) EXPECT_GE(itl.size(), 1u);  // a stream, not one chunk
  for (const char* k : {"request_throughput", "output_throughput", "total_token_throughput", "mean_ttft_ms",
                        "mean_e2el_ms", "p99_ttft_ms", "p50_ttft_ms", "request_goodput"}) {
    EXPECT_TRUE(FinitePositive(j[k])) << k << " = " << j[k].dump();
  }
  // Chunks read together have a 0 gap, so these are only >= 0.
  for (const char* k : {"mean_tpot_ms", "p50_tpot_ms", "median_itl_ms", "p99_itl_ms", "std_e2el_ms"}) {
    EXPECT_TRUE(j[k].is_number() && j[k].get<double>() >= 0) << k << " = " << j[k].dump();
  }
  EXPECT_DOUBLE_EQ(j["request_goodput"].get<double>(), j["request_throughput"].get<double>());  // huge SLOs

  // Text prompts (for llama-server) and the chat endpoint: token counts come from usage.
  for (const std::string mode : {"--prompt-mode text", "--endpoint /v1/chat/completions"}) {
    r = RunPagellm(StrCat("bench serve ", url, " --api-key sekrit --num-prompts 5 --random-input-len 10"
                          " --random-output-len 6 ", mode, " --output-json ", json.string()));
    ASSERT_EQ(r.exit_code, 0) << mode << "\n" << r.err;
    j = ReadJson(json);
    EXPECT_EQ(j["completed"], 5) << mode << " " << j["errors"].dump();
    EXPECT_EQ(j["total_output_tokens"], 30) << mode;
  }

  // Server errors are reported, not crashed on: a wrong key, then a prompt too long to fit.
  r = RunPagellm(StrCat("bench serve ", url, " --api-key wrong --num-prompts 2"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.err;
  r = RunPagellm(StrCat("bench serve ", url, " --api-key sekrit --model hf --num-prompts 3 --random-input-len 600",
                        " --random-output-len 4 --output-json ", json.string()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("HTTP 400"), std::string::npos) << r.err;
  j = ReadJson(json);
  EXPECT_EQ(j["failed"], 3);
  EXPECT_EQ(j["completed"], 0);
}

}  // namespace
}  // namespace pagellm::bench
