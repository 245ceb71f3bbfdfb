// Benchmarks for LlamaModel::Forward on random-weight models of real shapes (Qwen2.5-0.5B,
// TinyLlama-1.1B) in BF16 with 2 threads: decode steps (1 or 16 sequences at context 512) and a
// prefill chunk. Counters (per second): tokens, and for decode weight_GB, the weight bytes a step streams.
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "src/model/llama.h"
#include "src/model/random_model_testutil.h"

namespace pagellm {
namespace {

struct Preset {
  const char* name;
  int64_t hidden, intermediate, layers, heads, kv_heads, head_dim, vocab;
  bool qkv_bias, tied;
};

constexpr Preset kPresets[] = {
    {"qwen2.5-0.5b", 896, 4864, 24, 14, 2, 64, 151936, true, true},
    {"tinyllama-1.1b", 2048, 5632, 22, 32, 4, 64, 32000, false, false},
};

ThreadPool& Pool() {
  static ThreadPool pool(2);
  return pool;
}

// The model of the current benchmark; rebuilt when the preset or ISA changes (takes seconds), one
// alive at a time.
LlamaModel& Model(int preset, KernelIsa isa) {
  static std::pair<int, KernelIsa> key{-1, KernelIsa::kScalar};
  static std::unique_ptr<LlamaModel> model;
  if (key != std::pair{preset, isa}) {
    model.reset();
    const Preset& p = kPresets[preset];
    ModelConfig c = testing::SmallConfig(p.hidden, p.intermediate, p.layers, p.heads, p.kv_heads, p.head_dim, p.vocab);
    c.qkv_bias = p.qkv_bias;
    c.tie_word_embeddings = p.tied;
    testing::RandomWeightsOptions o;
    o.matrix_dtype = o.embed_dtype = DType::kBF16;
    o.fast = true;
    auto created = LlamaModel::Create(c, testing::MakeRandomWeights(c, o), Kernels::ForIsa(isa));
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
      std::abort();
    }
    model = *std::move(created);
    key = {preset, isa};
  }
  return *model;
}

uint64_t WeightBytes(const LlamaModel& m) {
  const ModelWeights& w = m.weights();
  uint64_t b = w.lm_head.nbytes();
  for (const LayerWeights& l : w.layers) {
    for (const TensorView* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) b += t->nbytes();
  }
  return b;
}

// `num_seqs` sequences, each running `chunk` tokens at positions context-chunk .. context-1. The
// KV of earlier positions holds random values (speed does not depend on them).
void BM_Forward(benchmark::State& state, int preset, KernelIsa isa, int num_seqs, int chunk, int context) {
  LlamaModel& model = Model(preset, isa);
  constexpr int64_t kBlock = 16;
  const int64_t blocks_per_seq = (context + kBlock - 1) / kBlock;
  KvStorage kv(model.KvSpec(kBlock, blocks_per_seq * num_seqs));
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const size_t layer_floats = static_cast<size_t>(kv.num_blocks() * kv.spec().floats_per_block());
  for (int64_t l = 0; l < kv.spec().num_layers; ++l) {
    for (size_t i = 0; i < layer_floats; i += 7) kv.k_layer(l)[i] = dist(rng), kv.v_layer(l)[i] = dist(rng);
  }
  std::vector<std::vector<BlockId>> tables(num_seqs);
  std::vector<BatchSequence> seqs;
  std::vector<TokenId> tokens;
  std::vector<int32_t> positions, seq_idx, logits_idx;
  std::vector<int64_t> slots;
  for (int s = 0; s < num_seqs; ++s) {
    for (int64_t b = 0; b < blocks_per_seq; ++b) tables[s].push_back(static_cast<BlockId>(b * num_seqs + s));
    for (int p = context - chunk; p < context; ++p) {
      tokens.push_back(static_cast<TokenId>((s * 7919 + p * 104729) % model.config().vocab_size));
      positions.push_back(p);
      seq_idx.push_back(s);
      slots.push_back(static_cast<int64_t>(tables[s][p / kBlock]) * kBlock + p % kBlock);
    }
    logits_idx.push_back(static_cast<int32_t>(tokens.size()) - 1);
  }
  for (const auto& t : tables) seqs.push_back({t, context});
  const ForwardBatch batch{tokens, positions, seq_idx, slots, seqs, logits_idx};
  std::vector<float> logits(logits_idx.size() * model.config().vocab_size);
  for (auto _ : state) {
    const Status st = model.Forward(batch, kv, Pool(), logits);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["tokens"] = benchmark::Counter(static_cast<double>(tokens.size()), benchmark::Counter::kIsIterationInvariantRate);
  if (chunk == 1) {
    state.counters["weight_GB"] =
        benchmark::Counter(static_cast<double>(WeightBytes(model)) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  }
}

void RegisterAll() {
  for (int p = 0; p < 2; ++p) {
    for (KernelIsa isa : {KernelIsa::kAvx512Bf16, KernelIsa::kAvx512, KernelIsa::kAvx2}) {
      if (Kernels::ForIsa(isa) == nullptr) continue;
      const std::string base = std::string(kPresets[p].name) + "/bf16/" + std::string(KernelIsaName(isa));
      struct Shape {
        const char* label;
        int seqs, chunk, context;
      };
      for (const Shape& s : {Shape{"decode/1seq/ctx512", 1, 1, 512}, Shape{"decode/16seqs/ctx512", 16, 1, 512},
                             Shape{"prefill/128tok", 1, 128, 128}}) {
        benchmark::RegisterBenchmark((base + "/" + s.label).c_str(), BM_Forward, p, isa, s.seqs, s.chunk, s.context)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace
}  // namespace pagellm

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  pagellm::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
