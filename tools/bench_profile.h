// `pagellm bench latency --profile`: where a forward pass spends its time, op by op, and how the
// matmuls' weight streaming compares with the machine's read bandwidth measured in-process.
#pragma once

#include <string>

#include "nlohmann/json.hpp"
#include "src/model/forward_profile.h"

namespace pagellm::bench {

struct ProfileReport {
  std::string test;               // "tg128", "pp512"
  ForwardProfile profile;         // the measured runs' forward passes
  double timed_seconds = 0;       // the test's timed span, all measured runs
  int64_t timed_steps = 0;        // engine steps in that span
  double read_gbs = 0;            // read baseline (read_bandwidth.h) with the engine's thread count
};

// A Markdown table: per op ms per forward pass, share, weight MB and GB/s, GFLOP/s, GB/s as a share
// of the read baseline; then the forward total and the time per step outside the forward pass.
std::string FormatProfile(const ProfileReport& r);
nlohmann::json ProfileJson(const ProfileReport& r);

}  // namespace pagellm::bench
