// Benchmarks for kernels.h with 2 threads: MatMul (GEMV M=1 and GEMM) per weight dtype and ISA,
// paged attention (decode and a prefill chunk), and a memory-read baseline measured in the same
// run. GEMV weights rotate through a 1 GiB working set so they stream from DRAM as in a real
// decode step; counters: GB/s of weights, GFLOP/s, and `of_read_bw` = GB/s / baseline read GB/s;
// Q8_0/Q4_0 also `GBps_vs_bf16` and `speedup_vs_bf16` against the BF16 run of the same ISA/shape.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "src/base/aligned_buffer.h"
#include "src/base/thread_pool.h"
#include "src/kernels/kernels.h"
#include "src/kernels/read_bandwidth.h"

namespace pagellm {
namespace {

constexpr size_t kWorkingSetBytes = size_t{1} << 30;
constexpr int kThreads = 2;

ThreadPool& Pool() {
  static ThreadPool pool(kThreads);
  return pool;
}

// 1 GiB of 16-bit patterns 0x3800..0x3bff with random sign: normal numbers whether read as F16
// (0.5 .. 1), BF16 (~3e-5) or, in pairs, F32 (~1e-5 .. 1e-3). Never zeros, never denormals.
const AlignedBuffer<uint16_t>& WorkingSet() {
  static const AlignedBuffer<uint16_t> buf = [] {
    AlignedBuffer<uint16_t> b(kWorkingSetBytes / 2);
    b.AdviseHugePages();  // like the model's weights (loader.cc)
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < b.size(); ++i) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      b[i] = static_cast<uint16_t>(0x3800u | (s & 0x3ffu) | ((s >> 20) & 1u) << 15);
    }
    return b;
  }();
  return buf;
}

// GB/s of reading the working set with the pool (read_bandwidth.h), measured once: the
// bandwidth a weight-streaming GEMV can hope for.
double BaselineGBs() {
  static const double gbs = ReadBandwidth(Pool(), WorkingSet().data(), kWorkingSetBytes);
  return gbs;
}

void BM_ReadBaseline(benchmark::State& state) {
  const AlignedBuffer<uint16_t>& ws = WorkingSet();
  for (auto _ : state) benchmark::DoNotOptimize(ReadBandwidth(Pool(), ws.data(), kWorkingSetBytes, 1));
  state.counters["GB"] = benchmark::Counter(kWorkingSetBytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// GB/s of each BF16 MatMul measured so far, by "isa/m/n/k": block-type runs report their
// bandwidth and speed relative to it (same run, same machine state).
std::map<std::string, double>& Bf16GBs() {
  static std::map<std::string, double> gbs;
  return gbs;
}

void BM_MatMul(benchmark::State& state, const Kernels* kernels, DType dtype, int64_t m, int64_t n, int64_t k) {
  // Block types read random bytes as blocks: the f16 scales (at even offsets) are the working
  // set's normal 16-bit patterns, the int8 / nibble values arbitrary. Only the speed matters here.
  const size_t w_bytes = static_cast<size_t>(*BytesFor(dtype, static_cast<uint64_t>(n * k)));
  const size_t stride = (w_bytes + 4095) / 4096 * 4096;
  const int64_t copies = std::max<int64_t>(1, static_cast<int64_t>(kWorkingSetBytes / stride));
  const auto* base = reinterpret_cast<const uint8_t*>(WorkingSet().data());
  std::vector<float> x(m * k), y(m * n);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (float& v : x) v = dist(rng);
  const double baseline = BaselineGBs();
  int64_t i = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const TensorView w = MakeView(dtype, base + (i++ % copies) * stride, {n, k});
    kernels->MatMul(Pool(), x.data(), m, w, nullptr, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double gbs = static_cast<double>(w_bytes) * state.iterations() / secs * 1e-9;
  state.counters["GB/s"] = gbs;
  state.counters["GFLOP/s"] = 2.0 * m * n * k * state.iterations() / secs * 1e-9;
  state.counters["of_read_bw"] = gbs / baseline;
  const std::string key = std::string(kernels->name()) + "/" + std::to_string(m) + "/" + std::to_string(n) + "/" + std::to_string(k);
  if (dtype == DType::kBF16) {
    Bf16GBs()[key] = gbs;
  } else if (auto it = Bf16GBs().find(key); it != Bf16GBs().end() && dtype != DType::kF32 && dtype != DType::kF16) {
    // GB/s relative to BF16's, and the speed-up (BF16 time / this time; BF16 reads 2 bytes/value).
    const double bf16_bytes = 2.0 * static_cast<double>(n * k);
    state.counters["GBps_vs_bf16"] = gbs / it->second;
    state.counters["speedup_vs_bf16"] = (gbs / static_cast<double>(w_bytes)) / (it->second / bf16_bytes);
  }
}

// One query per sequence at the end of its context (decode), or a whole prefill chunk.
void BM_Attention(benchmark::State& state, const Kernels* kernels, int64_t heads, int64_t kv_heads, int64_t hd,
                  int64_t context, int64_t num_seqs, bool prefill) {
  constexpr int64_t kBlock = 16;
  const int64_t blocks_per_seq = (context + kBlock - 1) / kBlock;
  const int64_t num_blocks = blocks_per_seq * num_seqs;
  std::vector<float> k_cache(num_blocks * kv_heads * kBlock * hd), v_cache(k_cache.size());
  std::mt19937 rng(2);
  std::normal_distribution<float> dist;
  for (float& f : k_cache) f = dist(rng);
  for (float& f : v_cache) f = dist(rng);
  std::vector<BlockId> ids(num_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<BlockTableView> tables;
  for (int64_t s = 0; s < num_seqs; ++s) tables.emplace_back(ids.data() + s * blocks_per_seq, blocks_per_seq);
  std::vector<int32_t> positions, seq_idx;
  for (int64_t s = 0; s < num_seqs; ++s) {
    for (int64_t p = prefill ? 0 : context - 1; p < context; ++p) {
      positions.push_back(static_cast<int32_t>(p));
      seq_idx.push_back(static_cast<int32_t>(s));
    }
  }
  const int64_t tokens = static_cast<int64_t>(positions.size());
  std::vector<float> q(tokens * heads * hd), out(q.size());
  for (float& f : q) f = dist(rng);
  PagedAttentionArgs a;
  a.q = q.data();
  a.q_stride = heads * hd;
  a.out = out.data();
  a.k_cache = k_cache.data();
  a.v_cache = v_cache.data();
  a.num_tokens = tokens;
  a.num_heads = heads;
  a.num_kv_heads = kv_heads;
  a.head_dim = hd;
  a.block_size = kBlock;
  a.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  a.positions = positions;
  a.seq_idx = seq_idx;
  a.block_tables = tables;
  for (auto _ : state) {
    kernels->PagedAttention(Pool(), a);
    benchmark::DoNotOptimize(out.data());
  }
  double keys = 0;  // (query, key) pairs per KV head
  for (int32_t p : positions) keys += p + 1.0;
  // K and V bytes read per step (decode: every key once per query; the cache is the traffic).
  state.counters["KV_GB"] = benchmark::Counter(keys * kv_heads * hd * 8 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP"] = benchmark::Counter(keys * heads * hd * 4 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

struct Shape {
  int64_t n, k;
};

void RegisterAll() {
  benchmark::RegisterBenchmark("ReadBaseline/2threads", BM_ReadBaseline)->UseRealTime()->Unit(benchmark::kMillisecond);
  const Shape shapes[] = {{896, 896}, {4864, 896}, {896, 4864}, {2048, 5632}};
  for (KernelIsa isa : Kernels::Available()) {
    const Kernels* kern = Kernels::ForIsa(isa);
    const std::string is(KernelIsaName(isa));
    for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_0x16, DType::kQ8_0x16,
                        DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kIQ4_NL, DType::kQ5_0x16, DType::kIQ4_NLx16, DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ4_Kx16, DType::kQ5_K,
                        DType::kQ5_Kx16, DType::kQ6_K, DType::kQ6_Kx16}) {
      if (isa == KernelIsa::kAvx512Bf16 && dtype != DType::kBF16) continue;  // same code as avx512
      if (!kern->SupportsWeights(dtype)) continue;
      const bool newer_type = dtype == DType::kIQ4_NL || dtype == DType::kQ2_K || dtype == DType::kQ3_K || dtype == DType::kQ4_K || dtype == DType::kQ5_K || dtype == DType::kQ6_K || dtype == DType::kQ4_1 ||
                              dtype == DType::kQ5_0 || dtype == DType::kQ5_1;
      if (newer_type && (isa == KernelIsa::kScalar || isa == KernelIsa::kAvx2)) continue;  // VNNI only, to keep it short
      const std::string dt(DTypeName(dtype));
      for (const Shape& s : shapes) {
        if (s.k % Info(dtype).block_elems != 0) continue;
        for (int64_t m : {1, 128}) {
          if (isa == KernelIsa::kScalar && (m > 1 || s.n != 896 || s.k != 896)) continue;  // slow reference
          const std::string name = "MatMul/" + is + "/" + dt + "/m" + std::to_string(m) + "/n" + std::to_string(s.n) + "/k" + std::to_string(s.k);
          benchmark::RegisterBenchmark(name.c_str(), BM_MatMul, kern, dtype, m, s.n, s.k)->UseRealTime()->Unit(benchmark::kMicrosecond);
        }
      }
    }
    if (isa == KernelIsa::kAvx512Bf16) continue;
    struct AttnShape {
      const char* label;
      int64_t heads, kv_heads, hd, context, seqs;
      bool prefill;
    };
    const AttnShape attn[] = {
        {"decode/qwen0.5b/ctx1024", 14, 2, 64, 1024, 1, false},  {"decode/qwen0.5b/ctx4096", 14, 2, 64, 4096, 1, false},
        {"decode/tinyllama/ctx4096", 32, 4, 64, 4096, 1, false}, {"decode/tinyllama/8seqs_ctx1024", 32, 4, 64, 1024, 8, false},
        {"prefill/qwen0.5b/512", 14, 2, 64, 512, 1, true},
    };
    for (const AttnShape& s : attn) {
      if (isa == KernelIsa::kScalar && s.prefill) continue;
      const std::string name = "Attention/" + is + "/" + s.label;
      benchmark::RegisterBenchmark(name.c_str(), BM_Attention, kern, s.heads, s.kv_heads, s.hd, s.context, s.seqs, s.prefill)
          ->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace
}  // namespace pagellm

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  pagellm::RegisterAll();
  std::printf("read baseline (2 threads, 1 GiB): %.1f GB/s; default kernels: %s\n", pagellm::BaselineGBs(),
              std::string(pagellm::Kernels::Default().name()).c_str());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
