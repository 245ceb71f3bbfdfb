// ForwardProfile: wall time of each kind of operation in LlamaModel::Forward, summed over calls,
// with the weight bytes each matmul read (`pagellm bench latency --profile`).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace pagellm {

enum class ForwardOp : int {
  kEmbed,      // batch checks, embedding lookup, RoPE table
  kNorm,       // RmsNorm before attention / MLP, final norm
  kQkv,        // fused q, k, v projections
  kRope,       // Qwen3 q/k norms, RoPE, K/V stores into the paged cache
  kAttention,  // PagedAttention
  kWo,         // attention output projection (+ residual)
  kGateUp,     // fused gate and up projections
  kSiluMul,    // silu(gate) * up
  kDown,       // down projection (+ residual)
  kLmHead,     // output head of the logits rows
  kNumOps,
};

constexpr std::string_view ForwardOpName(ForwardOp op) {
  constexpr std::array<std::string_view, static_cast<int>(ForwardOp::kNumOps)> kNames = {
      "batch checks + embedding", "rms_norm", "qkv matmul", "qk_norm/rope/kv store", "attention",
      "wo matmul", "gate_up matmul", "silu*mul", "down matmul", "lm_head matmul"};
  return kNames[static_cast<int>(op)];
}

struct ForwardProfile {
  struct Op {
    int64_t calls = 0;
    double seconds = 0;
    uint64_t weight_bytes = 0;  // bytes of weight matrices read (matmuls)
    double flops = 0;           // 2 * tokens * weight elements (matmuls)
  };
  std::array<Op, static_cast<int>(ForwardOp::kNumOps)> ops{};
  int64_t forwards = 0;
  int64_t tokens = 0;
  double seconds = 0;  // whole Forward calls, validation included

  Op& operator[](ForwardOp op) { return ops[static_cast<int>(op)]; }
  const Op& operator[](ForwardOp op) const { return ops[static_cast<int>(op)]; }
};

// Charges the time since the previous mark to an op. Does nothing (not even read the clock) when
// the profile is null, so Forward can mark unconditionally.
class ProfileClock {
 public:
  explicit ProfileClock(ForwardProfile* profile) : profile_(profile) {
    if (profile_ != nullptr) last_ = start_ = std::chrono::steady_clock::now();
  }
  void Mark(ForwardOp op, uint64_t weight_bytes = 0, double flops = 0) {
    if (profile_ == nullptr) return;
    const auto now = std::chrono::steady_clock::now();
    ForwardProfile::Op& o = (*profile_)[op];
    ++o.calls;
    o.seconds += std::chrono::duration<double>(now - last_).count();
    o.weight_bytes += weight_bytes;
    o.flops += flops;
    last_ = now;
  }
  // Ends one Forward of `tokens` tokens.
  void Finish(int64_t tokens) {
    if (profile_ == nullptr) return;
    ++profile_->forwards;
    profile_->tokens += tokens;
    profile_->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  ForwardProfile* profile_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace pagellm
