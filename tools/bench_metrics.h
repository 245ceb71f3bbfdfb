// Benchmark math shared by `pagellm bench latency | throughput | serve`: summary statistics,
// per-request serving metrics (TTFT, TPOT, ITL, E2EL), goodput under SLOs, request arrival times
// (Poisson / gamma), and random prompts and lengths. No I/O here, so all of it is unit-tested.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"
#include "src/base/status.h"

namespace pagellm::bench {

// ---- Summary statistics ----

double Mean(std::span<const double> values);  // 0 for none
// Standard deviation with `ddof` delta degrees of freedom (0: population, as numpy's default;
// 1: sample, as llama-bench). 0 when there are not more than ddof values.
double StdDev(std::span<const double> values, int ddof = 0);
// The p-th percentile (p in [0, 100]) with linear interpolation between closest ranks (numpy's
// default): rank = p / 100 * (n - 1). 0 for none.
double Percentile(std::span<const double> values, double p);

struct Summary {
  size_t count = 0;
  double mean = 0, median = 0, std = 0, min = 0, max = 0;
  std::vector<std::pair<double, double>> percentiles;  // (p, value)
};
Summary Summarize(std::span<const double> values, std::span<const double> percentiles);

// Parses "99" / "50,90,99" into percentiles in (0, 100].
StatusOr<std::vector<double>> ParsePercentiles(std::string_view text);

// ---- One request of a serving benchmark ----

struct RequestResult {
  bool success = false;
  std::string error;           // why it failed
  int64_t prompt_tokens = 0;   // usage.prompt_tokens, else the planned prompt length
  int64_t output_tokens = 0;   // usage.completion_tokens, else the number of content chunks
  double start = 0;            // seconds since the benchmark started
  double ttft = 0;             // seconds to the first content chunk
  double e2el = 0;             // seconds to the end of the stream
  std::vector<double> itl;     // seconds between consecutive content chunks
};

// Time per output token after the first: (E2EL - TTFT) / (output_tokens - 1); nullopt with fewer
// than two output tokens.
std::optional<double> Tpot(const RequestResult& r);

// Service-level objectives for goodput, in milliseconds (unset: not checked).
struct GoodputSlo {
  std::optional<double> ttft_ms, tpot_ms, e2el_ms;
  bool empty() const { return !ttft_ms && !tpot_ms && !e2el_ms; }
};
// Adds "ttft:MS", "tpot:MS" or "e2el:MS" (several may be separated by spaces or commas).
Status AddGoodputSlo(std::string_view text, GoodputSlo* slo);
// A successful request meets every set SLO (a request with one output token has no TPOT and
// meets a TPOT SLO).
bool MeetsSlo(const RequestResult& r, const GoodputSlo& slo);

struct ServeReport {
  int64_t completed = 0, failed = 0;
  double duration = 0;  // seconds
  int64_t total_input_tokens = 0, total_output_tokens = 0;
  double request_throughput = 0;      // completed / duration
  double output_throughput = 0;       // output tokens / duration
  double total_token_throughput = 0;  // (input + output tokens) / duration
  std::optional<double> goodput;      // requests meeting the SLOs / duration (when SLOs are set)
  int64_t good_requests = 0;
  Summary ttft_ms, tpot_ms, itl_ms, e2el_ms;  // over successful requests
};

ServeReport ComputeServeReport(std::span<const RequestResult> results, double duration,
                               const GoodputSlo& slo, std::span<const double> percentiles);
// The report as a table for people.
std::string FormatServeReport(const ServeReport& report, std::string_view title);
// The report as JSON ("mean_ttft_ms", "p99_itl_ms", "request_throughput", ... as vLLM names them).
nlohmann::json ServeReportJson(const ServeReport& report);

// ---- Arrivals ----

// Request arrival times (seconds from the start, the first at 0) for `n` requests at `rate`
// requests/s: the gaps are gamma distributed with shape `burstiness` and mean 1 / rate
// (burstiness 1: a Poisson process; < 1 burstier; > 1 more regular). rate = inf: all at 0.
// Deterministic for a seed.
std::vector<double> ArrivalTimes(size_t n, double rate, double burstiness, uint64_t seed);

// ---- Random workloads ----

// `n` lengths uniform in [round(len * (1 - ratio)), round(len * (1 + ratio))], at least 1.
std::vector<int64_t> SampleLengths(size_t n, int64_t len, double range_ratio, std::mt19937_64& rng);
// `len` token ids uniform in [0, vocab_size), skipping the ids in `excluded`.
std::vector<int32_t> RandomTokenIds(int64_t len, int64_t vocab_size, std::span<const int32_t> excluded,
                                    std::mt19937_64& rng);
// `num_words` random English words separated by spaces (for servers that want text).
std::string RandomWords(int64_t num_words, std::mt19937_64& rng);

// Parses a number that may be "inf" (request rate).
StatusOr<double> ParseRate(std::string_view text);

}  // namespace pagellm::bench
