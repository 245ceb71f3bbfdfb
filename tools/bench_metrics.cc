// Benchmark math: statistics, serving metrics, goodput, arrivals, random workloads.
#include "tools/bench_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace pagellm::bench {

double Mean(std::span<const double> values) {
  if (values.empty()) return 0;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

double StdDev(std::span<const double> values, int ddof) {
  if (values.size() <= static_cast<size_t>(ddof)) return 0;
  const double m = Mean(values);
  double ss = 0;
  for (double v : values) ss += (v - m) * (v - m);
  return std::sqrt(ss / static_cast<double>(values.size() - ddof));
}

double Percentile(std::span<const double> values, double p) {
  if (values.empty()) return 0;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

Summary Summarize(std::span<const double> values, std::span<const double> percentiles) {
  Summary s;
  s.count = values.size();
  s.mean = Mean(values);
  s.median = Percentile(values, 50);
  s.std = StdDev(values, 0);
  if (!values.empty()) {
    s.min = *std::min_element(values.begin(), values.end());
    s.max = *std::max_element(values.begin(), values.end());
  }
  for (double p : percentiles) s.percentiles.emplace_back(p, Percentile(values, p));
  return s;
}

StatusOr<std::vector<double>> ParsePercentiles(std::string_view text) {
  std::vector<double> out;
  for (absl::string_view part : absl::StrSplit(ToAbsl(text), ',', absl::SkipWhitespace())) {
    double p = 0;
    if (!absl::SimpleAtod(part, &p) || !(p > 0 && p <= 100)) {
      return InvalidArgument(StrCat("percentiles must be numbers in (0, 100], got '", std::string(part), "'"));
    }
    out.push_back(p);
  }
  if (out.empty()) return InvalidArgument("no percentiles given");
  return out;
}

std::optional<double> Tpot(const RequestResult& r) {
  if (r.output_tokens < 2) return std::nullopt;
  return (r.e2el - r.ttft) / static_cast<double>(r.output_tokens - 1);
}

Status AddGoodputSlo(std::string_view text, GoodputSlo* slo) {
  bool any = false;
  for (absl::string_view part : absl::StrSplit(ToAbsl(text), absl::ByAnyChar(" ,"), absl::SkipEmpty())) {
    any = true;
    const size_t colon = part.find(':');
    double ms = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtod(part.substr(colon + 1), &ms) || !(ms > 0) ||
        !std::isfinite(ms)) {
      return InvalidArgument(StrCat("--goodput expects NAME:MILLISECONDS with NAME ttft, tpot or e2el and a "
                                    "positive number, got '", std::string(part), "'"));
    }
    const absl::string_view name = part.substr(0, colon);
    if (name == "ttft") {
      slo->ttft_ms = ms;
    } else if (name == "tpot") {
      slo->tpot_ms = ms;
    } else if (name == "e2el") {
      slo->e2el_ms = ms;
    } else {
      return InvalidArgument(StrCat("--goodput: unknown metric '", std::string(name), "' (use ttft, tpot or e2el)"));
    }
  }
  if (!any) return InvalidArgument("--goodput needs NAME:MILLISECONDS");
  return absl::OkStatus();
}

bool MeetsSlo(const RequestResult& r, const GoodputSlo& slo) {
  if (!r.success) return false;
  if (slo.ttft_ms && r.ttft * 1e3 > *slo.ttft_ms) return false;
  if (slo.e2el_ms && r.e2el * 1e3 > *slo.e2el_ms) return false;
  if (slo.tpot_ms) {
    if (auto t = Tpot(r); t && *t * 1e3 > *slo.tpot_ms) return false;
  }
  return true;
}

ServeReport ComputeServeReport(std::span<const RequestResult> results, double duration, const GoodputSlo& slo,
                               std::span<const double> percentiles) {
  ServeReport rep;
  rep.duration = duration;
  std::vector<double> ttft, tpot, itl, e2el;
  for (const RequestResult& r : results) {
    if (!r.success) {
      ++rep.failed;
      continue;
    }
    ++rep.completed;
    rep.total_input_tokens += r.prompt_tokens;
    rep.total_output_tokens += r.output_tokens;
    ttft.push_back(r.ttft * 1e3);
    e2el.push_back(r.e2el * 1e3);
    if (auto t = Tpot(r)) tpot.push_back(*t * 1e3);
    for (double g : r.itl) itl.push_back(g * 1e3);
    if (!slo.empty() && MeetsSlo(r, slo)) ++rep.good_requests;
  }
  if (duration > 0) {
    rep.request_throughput = static_cast<double>(rep.completed) / duration;
    rep.output_throughput = static_cast<double>(rep.total_output_tokens) / duration;
    rep.total_token_throughput = static_cast<double>(rep.total_input_tokens + rep.total_output_tokens) / duration;
    if (!slo.empty()) rep.goodput = static_cast<double>(rep.good_requests) / duration;
  } else if (!slo.empty()) {
    rep.goodput = 0;
  }
  rep.ttft_ms = Summarize(ttft, percentiles);
  rep.tpot_ms = Summarize(tpot, percentiles);
  rep.itl_ms = Summarize(itl, percentiles);
  rep.e2el_ms = Summarize(e2el, percentiles);
  return rep;
}

namespace {

std::string Line(std::string_view name, const std::string& value) {
  std::string out(name);
  if (out.size() < 42) out.resize(42, ' ');
  return out + value + "\n";
}

std::string Num(double v, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Rule(std::string_view title) {
  const size_t width = 54;
  std::string t = title.empty() ? std::string() : StrCat(" ", title, " ");
  const size_t left = t.size() >= width ? 0 : (width - t.size()) / 2;
  const size_t right = t.size() >= width ? 0 : width - t.size() - left;
  return std::string(left, '-') + t + std::string(right, '-') + "\n";
}

std::string PercentileName(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", p);
  return buf;
}

void AddMetric(std::string& out, std::string_view title, std::string_view key, const Summary& s) {
  out += Rule(title);
  out += Line(StrCat("Mean ", key, " (ms):"), Num(s.mean));
  out += Line(StrCat("Median ", key, " (ms):"), Num(s.median));
  out += Line(StrCat("Std ", key, " (ms):"), Num(s.std));
  for (const auto& [p, v] : s.percentiles) out += Line(StrCat("P", PercentileName(p), " ", key, " (ms):"), Num(v));
}

void AddMetricJson(nlohmann::json& j, std::string_view key, const Summary& s) {
  const std::string k(key);
  j["mean_" + k + "_ms"] = s.mean;
  j["median_" + k + "_ms"] = s.median;
  j["std_" + k + "_ms"] = s.std;
  for (const auto& [p, v] : s.percentiles) j["p" + PercentileName(p) + "_" + k + "_ms"] = v;
}

}  // namespace

std::string FormatServeReport(const ServeReport& r, std::string_view title) {
  std::string out = std::string(54, '=') + "\n";
  out += Rule(title);
  out += Line("Successful requests:", StrCat(r.completed));
  out += Line("Failed requests:", StrCat(r.failed));
  out += Line("Benchmark duration (s):", Num(r.duration));
  out += Line("Total input tokens:", StrCat(r.total_input_tokens));
  out += Line("Total generated tokens:", StrCat(r.total_output_tokens));
  out += Line("Request throughput (req/s):", Num(r.request_throughput));
  if (r.goodput) out += Line("Request goodput (req/s):", Num(*r.goodput));
  out += Line("Output token throughput (tok/s):", Num(r.output_throughput));
  out += Line("Total token throughput (tok/s):", Num(r.total_token_throughput));
  AddMetric(out, "Time to First Token", "TTFT", r.ttft_ms);
  AddMetric(out, "Time per Output Token (excl. 1st token)", "TPOT", r.tpot_ms);
  AddMetric(out, "Inter-token Latency", "ITL", r.itl_ms);
  AddMetric(out, "End-to-end Latency", "E2EL", r.e2el_ms);
  out += std::string(54, '=') + "\n";
  return out;
}

nlohmann::json ServeReportJson(const ServeReport& r) {
  nlohmann::json j;
  j["duration"] = r.duration;
  j["completed"] = r.completed;
  j["failed"] = r.failed;
  j["total_input_tokens"] = r.total_input_tokens;
  j["total_output_tokens"] = r.total_output_tokens;
  j["request_throughput"] = r.request_throughput;
  j["output_throughput"] = r.output_throughput;
  j["total_token_throughput"] = r.total_token_throughput;
  j["request_goodput"] = r.goodput ? nlohmann::json(*r.goodput) : nlohmann::json(nullptr);
  AddMetricJson(j, "ttft", r.ttft_ms);
  AddMetricJson(j, "tpot", r.tpot_ms);
  AddMetricJson(j, "itl", r.itl_ms);
  AddMetricJson(j, "e2el", r.e2el_ms);
  return j;
}

std::vector<double> ArrivalTimes(size_t n, double rate, double burstiness, uint64_t seed) {
  std::vector<double> times(n, 0.0);
  if (n == 0 || std::isinf(rate)) return times;
  std::mt19937_64 rng(seed);
  // Gamma(shape k, scale theta) has mean k * theta; theta = 1 / (rate * k) gives mean 1 / rate.
  std::gamma_distribution<double> gap(burstiness, 1.0 / (rate * burstiness));
  for (size_t i = 1; i < n; ++i) times[i] = times[i - 1] + gap(rng);
  return times;
}

std::vector<int64_t> SampleLengths(size_t n, int64_t len, double range_ratio, std::mt19937_64& rng) {
  const int64_t lo = std::max<int64_t>(1, std::llround(static_cast<double>(len) * (1.0 - range_ratio)));
  const int64_t hi = std::max<int64_t>(lo, std::llround(static_cast<double>(len) * (1.0 + range_ratio)));
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  std::vector<int64_t> out(n);
  for (auto& v : out) v = lo == hi ? lo : dist(rng);
  return out;
}

std::vector<int32_t> RandomTokenIds(int64_t len, int64_t vocab_size, std::span<const int32_t> excluded,
                                    std::mt19937_64& rng) {
  std::vector<int32_t> allowed;
  allowed.reserve(static_cast<size_t>(vocab_size));
  for (int64_t id = 0; id < vocab_size; ++id) {
    if (std::find(excluded.begin(), excluded.end(), static_cast<int32_t>(id)) == excluded.end()) {
      allowed.push_back(static_cast<int32_t>(id));
    }
  }
  if (allowed.empty()) allowed.push_back(0);
  std::uniform_int_distribution<size_t> dist(0, allowed.size() - 1);
  std::vector<int32_t> out(static_cast<size_t>(std::max<int64_t>(0, len)));
  for (auto& v : out) v = allowed[dist(rng)];
  return out;
}

std::string RandomWords(int64_t num_words, std::mt19937_64& rng) {
  static constexpr std::string_view kWords[] = {
      "time",  "year",  "people", "way",   "day",    "man",   "thing", "woman", "life",  "child",
      "world", "school", "state", "family", "student", "group", "country", "problem", "hand", "part",
      "place", "case",  "week",   "company", "system", "program", "question", "work", "number", "night",
      "point", "home",  "water",  "room",  "mother", "area",  "money", "story", "fact",  "month",
      "lot",   "right", "study",  "book",  "eye",    "job",   "word",  "business", "issue", "side",
      "kind",  "head",  "house",  "service", "friend", "father", "power", "hour", "game",  "line",
      "end",   "member", "law",   "car",   "city",   "name",  "team",  "minute", "idea", "kid",
      "body",  "back",  "parent", "face",  "others", "level", "office", "door", "health", "person",
      "art",   "war",   "history", "party", "result", "change", "morning", "reason", "research", "girl",
      "guy",   "moment", "air",   "teacher", "force", "education", "little", "happy", "big", "green"};
  std::uniform_int_distribution<size_t> dist(0, std::size(kWords) - 1);
  std::string out;
  for (int64_t i = 0; i < num_words; ++i) {
    if (i > 0) out += ' ';
    out += kWords[dist(rng)];
  }
  return out;
}

StatusOr<double> ParseRate(std::string_view text) {
  if (text == "inf" || text == "Inf" || text == "INF") return std::numeric_limits<double>::infinity();
  double r = 0;
  if (!absl::SimpleAtod(ToAbsl(text), &r) || !(r > 0)) {
    return InvalidArgument(StrCat("--request-rate expects a positive number or 'inf', got '", text, "'"));
  }
  return r;
}

}  // namespace pagellm::bench
