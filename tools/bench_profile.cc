// Formats the per-op forward profile of `pagellm bench latency --profile`.
#include "tools/bench_profile.h"

#include <cstdio>

#include "src/base/status.h"

namespace pagellm::bench {
namespace {

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

constexpr int kNumOps = static_cast<int>(ForwardOp::kNumOps);

}  // namespace

std::string FormatProfile(const ProfileReport& r) {
  const ForwardProfile& p = r.profile;
  if (p.forwards == 0 || p.seconds <= 0) return StrCat("profile of ", r.test, ": no forward pass was timed\n");
  const double per = 1e3 / static_cast<double>(p.forwards);  // seconds -> ms per forward
  std::string out = StrCat("\nprofile of ", r.test, ": ", p.forwards, " forward passes, ",
                           Fmt("%.1f", static_cast<double>(p.tokens) / static_cast<double>(p.forwards)),
                           " tokens each; read baseline ", Fmt("%.1f", r.read_gbs),
                           " GB/s (measured in this process, same threads)\n\n");
  out += "| op | ms/forward | share | weight MB/forward | weight GB/s | of read baseline | GFLOP/s |\n";
  out += "|---|---:|---:|---:|---:|---:|---:|\n";
  uint64_t bytes = 0;
  double flops = 0;
  auto row = [&](std::string_view name, double seconds, uint64_t weight_bytes, double op_flops) {
    const double gbs = seconds > 0 ? static_cast<double>(weight_bytes) / seconds * 1e-9 : 0;
    out += StrCat("| ", name, " | ", Fmt("%.3f", seconds * per), " | ", Fmt("%.1f%%", 100 * seconds / p.seconds), " | ");
    if (weight_bytes > 0) {
      out += StrCat(Fmt("%.1f", static_cast<double>(weight_bytes) / static_cast<double>(p.forwards) * 1e-6), " | ",
                    Fmt("%.1f", gbs), " | ", r.read_gbs > 0 ? Fmt("%.0f%%", 100 * gbs / r.read_gbs) : "-", " | ",
                    Fmt("%.1f", seconds > 0 ? op_flops / seconds * 1e-9 : 0), " |\n");
    } else {
      out += "| | | |\n";
    }
  };
  for (int i = 0; i < kNumOps; ++i) {
    const ForwardProfile::Op& o = p.ops[i];
    if (o.calls == 0) continue;
    row(ForwardOpName(static_cast<ForwardOp>(i)), o.seconds, o.weight_bytes, o.flops);
    bytes += o.weight_bytes;
    flops += o.flops;
  }
  row("**forward pass**", p.seconds, bytes, flops);
  if (r.timed_steps > 0) {
    const double step_ms = r.timed_seconds / static_cast<double>(r.timed_steps) * 1e3;
    out += StrCat("\nper engine step: ", Fmt("%.3f", step_ms), " ms, of which ", Fmt("%.3f", step_ms - p.seconds * per),
                  " ms outside the forward pass (scheduling, sampling, detokenizing, output delivery)\n");
  }
  return out;
}

nlohmann::json ProfileJson(const ProfileReport& r) {
  nlohmann::json ops = nlohmann::json::array();
  for (int i = 0; i < kNumOps; ++i) {
    const ForwardProfile::Op& o = r.profile.ops[i];
    if (o.calls == 0) continue;
    ops.push_back({{"op", std::string(ForwardOpName(static_cast<ForwardOp>(i)))},
                   {"calls", o.calls},
                   {"seconds", o.seconds},
                   {"weight_bytes", o.weight_bytes},
                   {"flops", o.flops}});
  }
  return {{"test", r.test},
          {"forwards", r.profile.forwards},
          {"tokens", r.profile.tokens},
          {"forward_seconds", r.profile.seconds},
          {"timed_seconds", r.timed_seconds},
          {"timed_steps", r.timed_steps},
          {"read_gbs", r.read_gbs},
          {"ops", ops}};
}

}  // namespace pagellm::bench
