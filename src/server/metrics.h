// Metrics: Prometheus text exposition of the engine's figures under vLLM's metric names
// (vllm:...) plus pagellm's own KV figures (pagellm:...). Updated from the engine thread after
// every step; rendered by /metrics on any thread.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "src/engine/engine.h"

namespace pagellm::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> buckets);
  void Observe(double v);
  // "name_bucket{labels,le=...} n" lines, then _sum and _count.
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::vector<double> buckets_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative)
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  explicit Metrics(std::string model_name);

  // Engine thread: the stats after a step and the outputs it produced.
  void OnStep(const EngineStats& stats, const std::vector<RequestOutput>& outputs);
  // HTTP threads: requests refused before reaching the engine, by HTTP status.
  void OnRejected(int http_status);

  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::string model_name_;
  EngineStats stats_;
  uint64_t success_stop_ = 0, success_length_ = 0, success_abort_ = 0;
  uint64_t rejected_4xx_ = 0, rejected_5xx_ = 0;
  Histogram ttft_, itl_, e2e_, queue_, prompt_len_, gen_len_;
};

}  // namespace pagellm::server
