// Metrics: counters, gauges and histograms in the Prometheus text format (version 0.0.4).
#include "src/server/metrics.h"

#include <charconv>
#include <cmath>

namespace pagellm::server {
namespace {

std::string Num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // shortest exact representation
  return std::string(buf, ec == std::errc() ? end : buf);
}

void Header(std::string* out, const char* name, const char* type, const char* help) {
  *out += StrCat("# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> buckets) : buckets_(std::move(buckets)), counts_(buckets_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < buckets_.size() && v > buckets_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  uint64_t cum = 0;
  for (size_t i = 0; i <= buckets_.size(); ++i) {
    cum += counts_[i];
    const std::string le = i < buckets_.size() ? Num(buckets_[i]) : "+Inf";
    *out += StrCat(name, "_bucket{", labels, ",le=\"", le, "\"} ", cum, "\n");
  }
  *out += StrCat(name, "_sum{", labels, "} ", Num(sum_), "\n");
  *out += StrCat(name, "_count{", labels, "} ", count_, "\n");
}

Metrics::Metrics(std::string model_name)
    : model_name_(std::move(model_name)),
      // vLLM's buckets for each histogram.
      ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
             10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}),
      itl_({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
            20.0, 40.0, 80.0}),
      e2e_({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
            120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}),
      queue_({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
              120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}),
      prompt_len_({1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000}),
      gen_len_({1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000}) {}

void Metrics::OnStep(const EngineStats& stats, const std::vector<RequestOutput>& outputs) {
  std::lock_guard lock(mu_);
  stats_ = stats;
  for (const RequestOutput& o : outputs) {
    for (double itl : o.metrics.inter_token_latencies) itl_.Observe(itl);
    if (!o.finished) {
      continue;
    }
    const RequestMetrics& m = o.metrics;
    // One finished_reason per request: that of its first sequence (vLLM does the same).
    const FinishReason r = o.outputs.empty() ? FinishReason::kAbort : o.outputs[0].finish_reason;
    if (r == FinishReason::kStop) ++success_stop_;
    if (r == FinishReason::kLength) ++success_length_;
    if (r == FinishReason::kAbort) ++success_abort_;
    if (m.first_token_time > 0) ttft_.Observe(m.first_token_time - m.arrival_time);
    if (m.first_scheduled_time > 0) queue_.Observe(m.first_scheduled_time - m.arrival_time);
    e2e_.Observe(m.finished_time - m.arrival_time);
    prompt_len_.Observe(static_cast<double>(m.num_prompt_tokens));
    gen_len_.Observe(static_cast<double>(m.num_generation_tokens));
  }
}

void Metrics::OnRejected(int http_status) {
  std::lock_guard lock(mu_);
  if (http_status >= 500) {
    ++rejected_5xx_;
  } else {
    ++rejected_4xx_;
  }
}

std::string Metrics::Render() const {
  std::lock_guard lock(mu_);
  const std::string labels = StrCat("model_name=\"", EscapeLabel(model_name_), "\"");
  std::string out;
  auto gauge = [&](const char* name, const char* help, double v) {
    Header(&out, name, "gauge", help);
    out += StrCat(name, "{", labels, "} ", Num(v), "\n");
  };
  auto counter = [&](const char* name, const char* help, double v) {
    Header(&out, name, "counter", help);
    out += StrCat(name, "{", labels, "} ", Num(v), "\n");
  };
  gauge("vllm:num_requests_running", "Number of requests in model execution batches.", static_cast<double>(stats_.num_running));
  gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", static_cast<double>(stats_.num_waiting));
  gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", stats_.kv.usage());
  counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", static_cast<double>(stats_.prompt_tokens_total));
  counter("vllm:generation_tokens_total", "Number of generation tokens processed.", static_cast<double>(stats_.generation_tokens_total));
  counter("vllm:num_preemptions_total", "Cumulative number of preemptions from the engine.", static_cast<double>(stats_.num_preemptions));
  counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.",
          static_cast<double>(stats_.kv.prefix_cache_queries));
  counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.",
          static_cast<double>(stats_.kv.prefix_cache_hits));
  Header(&out, "vllm:request_success_total", "counter", "Count of successfully processed requests.");
  out += StrCat("vllm:request_success_total{", labels, ",finished_reason=\"stop\"} ", success_stop_, "\n");
  out += StrCat("vllm:request_success_total{", labels, ",finished_reason=\"length\"} ", success_length_, "\n");
  out += StrCat("vllm:request_success_total{", labels, ",finished_reason=\"abort\"} ", success_abort_, "\n");
  auto histogram = [&](const char* name, const char* help, const Histogram& h) {
    Header(&out, name, "histogram", help);
    h.Render(name, labels, &out);
  };
  histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttft_);
  histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itl_);
  histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", e2e_);
  histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", queue_);
  histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", prompt_len_);
  histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", gen_len_);
  gauge("pagellm:kv_cache_blocks_total", "KV cache blocks in the pool.", static_cast<double>(stats_.kv.num_blocks));
  gauge("pagellm:kv_cache_used_blocks", "KV cache blocks referenced by running sequences.", static_cast<double>(stats_.kv.used_blocks));
  gauge("pagellm:kv_cache_shared_blocks", "KV cache blocks shared by more than one sequence.", static_cast<double>(stats_.kv.shared_blocks));
  gauge("pagellm:kv_cache_internal_waste_perc",
        "Share of allocated KV slots holding no token (the empty tail of last blocks).", stats_.kv.internal_waste());
  counter("pagellm:http_rejected_4xx_total", "Requests refused with a 4xx before reaching the engine.", static_cast<double>(rejected_4xx_));
  counter("pagellm:http_rejected_5xx_total", "Requests refused with a 5xx.", static_cast<double>(rejected_5xx_));
  return out;
}

}  // namespace pagellm::server
