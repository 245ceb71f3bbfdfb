// Tests for LlamaModel: the paged forward pass vs the double-precision oracle over random model
// shapes and random batch schedules, bitwise batch invariance, and input validation.
#include "src/model/llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/model/random_model_testutil.h"
#include "src/model/reference_llama_testutil.h"

namespace pagellm {
namespace {

using testing::MakeRandomWeights;
using testing::RandomWeightsOptions;
using testing::ReferenceLlama;
using testing::SmallConfig;

// Drives a LlamaModel like a model runner would: sequences with block tables on shuffled physical
// blocks, steps made of (sequence, number of next tokens) chunks, logits for every row.
class PagedHarness {
 public:
  PagedHarness(LlamaModel& model, int64_t block_size, int64_t num_blocks, uint64_t seed)
      : model_(model), kv_(model.KvSpec(block_size, num_blocks)), rng_(seed) {
    free_.resize(num_blocks);
    std::iota(free_.begin(), free_.end(), 0);
    std::shuffle(free_.begin(), free_.end(), rng_);
  }

  int AddSequence(std::vector<TokenId> tokens) {
    seqs_.push_back({std::move(tokens), {}, 0});
    return static_cast<int>(seqs_.size()) - 1;
  }
  int32_t computed(int s) const { return seqs_[s].computed; }
  int32_t length(int s) const { return static_cast<int32_t>(seqs_[s].tokens.size()); }
  KvStorage& kv() { return kv_; }

  struct Row {
    int seq;
    int32_t position;
    std::vector<float> logits;
  };

  // Runs the next `count` tokens of each listed sequence in one Forward; rows optionally shuffled.
  std::vector<Row> Step(const std::vector<std::pair<int, int>>& chunks, ThreadPool& pool, bool shuffle) {
    const int64_t bs = kv_.block_size();
    std::vector<std::pair<int, int32_t>> rows;  // (seq, position)
    std::vector<BatchSequence> batch_seqs;
    std::map<int, int32_t> local;  // harness seq -> batch seq index
    for (const auto& [s, count] : chunks) {
      Seq& q = seqs_[s];
      const int32_t end = q.computed + count;
      while (static_cast<int64_t>(q.table.size()) * bs < end) {
        EXPECT_FALSE(free_.empty());
        q.table.push_back(free_.back());
        free_.pop_back();
      }
      for (int32_t p = q.computed; p < end; ++p) rows.emplace_back(s, p);
      local[s] = static_cast<int32_t>(batch_seqs.size());
      batch_seqs.push_back({q.table, end});
    }
    if (shuffle) std::shuffle(rows.begin(), rows.end(), rng_);
    std::vector<TokenId> tokens;
    std::vector<int32_t> positions, seq_idx, logits_idx;
    std::vector<int64_t> slots;
    for (const auto& [s, p] : rows) {
      tokens.push_back(seqs_[s].tokens[p]);
      positions.push_back(p);
      seq_idx.push_back(local[s]);
      slots.push_back(static_cast<int64_t>(seqs_[s].table[p / bs]) * bs + p % bs);
      logits_idx.push_back(static_cast<int32_t>(logits_idx.size()));
    }
    ForwardBatch batch{tokens, positions, seq_idx, slots, batch_seqs, logits_idx};
    const int64_t vocab = model_.config().vocab_size;
    std::vector<float> logits(rows.size() * vocab);
    const Status st = model_.Forward(batch, kv_, pool, logits);
    EXPECT_TRUE(st.ok()) << st;
    for (const auto& [s, count] : chunks) seqs_[s].computed += count;
    std::vector<Row> out;
    for (size_t i = 0; i < rows.size(); ++i) {
      out.push_back({rows[i].first, rows[i].second,
                     std::vector<float>(logits.begin() + i * vocab, logits.begin() + (i + 1) * vocab)});
    }
    return out;
  }

 private:
  struct Seq {
    std::vector<TokenId> tokens;
    std::vector<BlockId> table;
    int32_t computed;
  };
  LlamaModel& model_;
  KvStorage kv_;
  std::mt19937_64 rng_;
  std::vector<BlockId> free_;
  std::vector<Seq> seqs_;
};

struct ModelCase {
  std::string name;
  ModelConfig config;
  RandomWeightsOptions options;
};

std::vector<ModelCase> Cases() {
  std::vector<ModelCase> cases;
  {  // GQA 1, head_dim 8, Qwen2-style biases, tied F32 embeddings, neox.
    ModelCase c{"gqa1_hd8_bias_tied_neox_f32", SmallConfig(32, 48, 2, 4, 4, 8, 67), {}};
    c.config.qkv_bias = true;
    c.config.tie_word_embeddings = true;
    cases.push_back(c);
  }
  {  // GQA 2, head_dim 64, interleaved, llama3 scaling, BF16 matrices and embeddings.
    ModelCase c{"gqa2_hd64_interleaved_llama3_bf16", SmallConfig(128, 192, 2, 4, 2, 64, 101), {}};
    c.config.rope_style = RopeStyle::kInterleaved;
    c.config.rope_theta = 500000.0;
    c.config.rope_scaling = {RopeScaling::Type::kLlama3, 8.0, 1.0, 4.0, 256};
    c.options.matrix_dtype = c.options.embed_dtype = DType::kBF16;
    cases.push_back(c);
  }
  {  // GQA 4, head_dim 64, Qwen3-style q/k norm, F16 matrices, q_dim != hidden.
    ModelCase c{"gqa4_hd64_qknorm_neox_f16", SmallConfig(96, 160, 2, 8, 2, 64, 89), {}};
    c.config.qk_norm = true;
    c.options.matrix_dtype = DType::kF16;
    cases.push_back(c);
  }
  {  // GQA 8, head_dim 128, linear scaling, biases, tied BF16 embeddings as lm_head.
    ModelCase c{"gqa8_hd128_linear_bias_tied_bf16", SmallConfig(128, 128, 2, 8, 1, 128, 79), {}};
    c.config.rope_style = RopeStyle::kInterleaved;
    c.config.rope_scaling = {RopeScaling::Type::kLinear, 2.0};
    c.config.qkv_bias = true;
    c.config.tie_word_embeddings = true;
    c.options.matrix_dtype = c.options.embed_dtype = DType::kBF16;
    cases.push_back(c);
  }
  {  // GQA 2, head_dim 16, GGUF rope_freqs, q/k norm + biases, 3 layers.
    ModelCase c{"gqa2_hd16_ropefreqs_qknorm_bias_f32", SmallConfig(64, 96, 3, 4, 2, 16, 97), {}};
    c.config.rope_style = RopeStyle::kInterleaved;
    c.config.qk_norm = true;
    c.config.qkv_bias = true;
    c.options.rope_freqs = true;
    cases.push_back(c);
  }
  {  // GQA 7 (Qwen2.5-0.5B's 14/2), head_dim 8, F16 embeddings.
    ModelCase c{"gqa7_hd8_f16embed", SmallConfig(48, 64, 2, 14, 2, 8, 61), {}};
    c.options.embed_dtype = DType::kF16;
    cases.push_back(c);
  }
  return cases;
}

// Tolerance on max |logit - oracle|, relative to max(1, max |oracle logit|): f32 activations
// everywhere, or activations rounded to bf16 in every BF16 MatMul (kAvx512Bf16).
double Tolerance(KernelIsa isa, const ModelCase& c) {
  const bool bf16_dot = isa == KernelIsa::kAvx512Bf16 && c.options.matrix_dtype == DType::kBF16;
  return bf16_dot ? 1e-2 : 2e-5;
}

TEST(LlamaModelTest, PagedForwardMatchesOracle) {
  ThreadPool pool(2);
  std::mt19937_64 rng(2024);
  for (const ModelCase& mc : Cases()) {
    ASSERT_TRUE(mc.config.Validate().ok()) << mc.name;
    ModelWeights weights = MakeRandomWeights(mc.config, mc.options);
    const ReferenceLlama oracle(mc.config, weights);
    // Four sequences with their oracle logits at every position.
    std::vector<std::vector<TokenId>> tokens(4);
    std::vector<std::vector<std::vector<double>>> want(4);
    std::vector<int32_t> prompt_len(4);
    double scale = 1.0;
    for (int s = 0; s < 4; ++s) {
      const int len = std::uniform_int_distribution<int>(8, 40)(rng);
      prompt_len[s] = std::uniform_int_distribution<int>(1, len)(rng);
      ReferenceLlama::Sequence seq = oracle.NewSequence();
      for (int i = 0; i < len; ++i) {
        tokens[s].push_back(std::uniform_int_distribution<int>(0, mc.config.vocab_size - 1)(rng));
        want[s].push_back(oracle.Step(seq, tokens[s].back()));
        for (double v : want[s].back()) scale = std::max(scale, std::fabs(v));
      }
    }
    for (KernelIsa isa : Kernels::Available()) {
      ModelWeights copy = MakeRandomWeights(mc.config, mc.options);  // same seed, same values
      auto model = LlamaModel::Create(mc.config, std::move(copy), Kernels::ForIsa(isa));
      ASSERT_TRUE(model.ok()) << model.status();
      for (int64_t bs : {1, 3, 16, 32}) {
        int64_t num_blocks = 4;
        for (const auto& t : tokens) num_blocks += (static_cast<int64_t>(t.size()) + bs - 1) / bs;
        PagedHarness h(**model, bs, num_blocks, rng());
        for (const auto& t : tokens) h.AddSequence(t);
        double max_diff = 0.0;
        int steps = 0;
        for (;;) {
          std::vector<std::pair<int, int>> chunks;
          for (int s = 0; s < 4; ++s) {
            if (h.computed(s) == h.length(s) || std::uniform_real_distribution<>(0, 1)(rng) < 0.3) continue;
            const int rest_of_prompt = prompt_len[s] - h.computed(s);
            chunks.emplace_back(s, rest_of_prompt > 0 ? std::uniform_int_distribution<int>(1, std::min(rest_of_prompt, 17))(rng) : 1);
          }
          if (chunks.empty()) {
            bool done = true;
            for (int s = 0; s < 4; ++s) done = done && h.computed(s) == h.length(s);
            if (done) break;
            continue;
          }
          ++steps;
          for (const auto& row : h.Step(chunks, pool, /*shuffle=*/steps % 2 == 0)) {
            const std::vector<double>& ref = want[row.seq][row.position];
            for (size_t j = 0; j < ref.size(); ++j) max_diff = std::max(max_diff, std::fabs(row.logits[j] - ref[j]));
          }
        }
        std::printf("%-38s %-10s block %2ld (%2d steps): max |logit - oracle| %.3g (logit scale %.3g)\n",
                    mc.name.c_str(), std::string(KernelIsaName(isa)).c_str(), static_cast<long>(bs), steps,
                    max_diff, scale);
        EXPECT_LE(max_diff, Tolerance(isa, mc) * scale) << mc.name << " " << KernelIsaName(isa) << " block " << bs;
      }
    }
  }
}

// A request's logits are bitwise identical alone (token by token or one prefill chunk), chunked at
// several sizes, inside batches of 16 sequences with shuffled rows, and with 1, 2 or 3 threads.
TEST(LlamaModelTest, LogitsAreBatchInvariant) {
  ThreadPool pool1(1), pool2(2), pool3(3);
  const std::vector<ModelCase> cases = Cases();
  for (const ModelCase* mc : {&cases[1], &cases[2], &cases[4]}) {
    for (KernelIsa isa : Kernels::Available()) {
      auto model = LlamaModel::Create(mc->config, MakeRandomWeights(mc->config, mc->options), Kernels::ForIsa(isa));
      ASSERT_TRUE(model.ok()) << model.status();
      std::mt19937_64 rng(7);
      std::vector<TokenId> request(40);
      for (TokenId& t : request) t = std::uniform_int_distribution<int>(0, mc->config.vocab_size - 1)(rng);
      constexpr int64_t kBlock = 16;

      // Runs `request` with the given chunk sizes, next to `others` other sequences; returns its
      // logits by position.
      auto run = [&](const std::vector<int>& chunk_sizes, int others, ThreadPool& pool, uint64_t seed) {
        PagedHarness h(**model, kBlock, 200, seed);
        std::mt19937_64 r(seed);
        const int a = h.AddSequence(request);
        for (int i = 0; i < others; ++i) {
          std::vector<TokenId> t(std::uniform_int_distribution<int>(10, 50)(r));
          for (TokenId& x : t) x = std::uniform_int_distribution<int>(0, mc->config.vocab_size - 1)(r);
          h.AddSequence(t);
        }
        std::vector<std::vector<float>> out(request.size());
        for (size_t c = 0; h.computed(a) < h.length(a); ++c) {
          std::vector<std::pair<int, int>> chunks;
          chunks.emplace_back(a, std::min(chunk_sizes[c % chunk_sizes.size()], h.length(a) - h.computed(a)));
          for (int s = 1; s <= others; ++s) {
            const int left = h.length(s) - h.computed(s);
            if (left > 0) chunks.emplace_back(s, std::uniform_int_distribution<int>(1, std::min(left, 9))(r));
          }
          std::shuffle(chunks.begin(), chunks.end(), r);
          for (auto& row : h.Step(chunks, pool, /*shuffle=*/true)) {
            if (row.seq == a) out[row.position] = std::move(row.logits);
          }
        }
        return out;
      };
      const auto alone_decode = run({1}, 0, pool1, 1);
      const std::vector<std::vector<std::vector<float>>> variants = {
          run({40}, 0, pool2, 2),         run({7}, 15, pool3, 3), run({13, 1, 1, 5}, 15, pool2, 4),
          run({3, 16}, 15, pool1, 5),     run({1}, 15, pool3, 6),
      };
      for (size_t v = 0; v < variants.size(); ++v) {
        for (size_t p = 0; p < request.size(); ++p) {
          ASSERT_EQ(variants[v][p].size(), alone_decode[p].size());
          ASSERT_EQ(std::memcmp(variants[v][p].data(), alone_decode[p].data(), alone_decode[p].size() * sizeof(float)), 0)
              << mc->name << " " << KernelIsaName(isa) << " variant " << v << " position " << p;
        }
      }
    }
  }
}

// One valid single-sequence batch whose parts the tests below break one at a time.
struct BatchParts {
  std::vector<TokenId> tokens = {1, 2, 3};
  std::vector<int32_t> positions = {0, 1, 2};
  std::vector<int32_t> seq_idx = {0, 0, 0};
  std::vector<BlockId> table = {5};
  std::vector<int64_t> slots = {20, 21, 22};  // block 5 of 4 slots
  int32_t context_len = 3;
  std::vector<int32_t> logits_idx = {2};
  std::vector<BatchSequence> seqs;

  ForwardBatch Make() {
    seqs = {BatchSequence{table, context_len}};
    return ForwardBatch{tokens, positions, seq_idx, slots, seqs, logits_idx};
  }
};

TEST(LlamaModelTest, ForwardRejectsInvalidBatchesWithoutTouchingKv) {
  const ModelCase mc = Cases()[0];
  auto model = LlamaModel::Create(mc.config, MakeRandomWeights(mc.config, mc.options));
  ASSERT_TRUE(model.ok()) << model.status();
  KvStorage kv((*model)->KvSpec(/*block_size=*/4, /*num_blocks=*/8));
  ThreadPool pool(2);
  const int64_t vocab = mc.config.vocab_size;
  std::vector<float> logits(vocab);
  const size_t layer_floats = static_cast<size_t>(8 * kv.spec().floats_per_block());
  auto snapshot = [&] {
    std::vector<float> s;
    for (int64_t l = 0; l < mc.config.num_layers; ++l) {
      s.insert(s.end(), kv.k_layer(l), kv.k_layer(l) + layer_floats);
      s.insert(s.end(), kv.v_layer(l), kv.v_layer(l) + layer_floats);
    }
    return s;
  };
  const std::vector<float> before = snapshot();
  const std::vector<std::pair<std::string, std::function<void(BatchParts&)>>> breaks = {
      {"token id = vocab", [&](BatchParts& b) { b.tokens[1] = static_cast<TokenId>(vocab); }},
      {"negative token id", [](BatchParts& b) { b.tokens[0] = -1; }},
      {"seq_idx past the sequences", [](BatchParts& b) { b.seq_idx[2] = 1; }},
      {"position >= context_len", [](BatchParts& b) { b.context_len = 2; }},
      {"negative position", [](BatchParts& b) { b.positions[0] = -1; }},
      {"position beyond the block table", [](BatchParts& b) { b.positions = {2, 3, 4}, b.context_len = 5, b.slots = {22, 23, 24}; }},
      {"slot disagrees with the table", [](BatchParts& b) { b.slots[2] = 23; }},
      {"block id outside the storage", [](BatchParts& b) { b.table = {8}, b.slots = {32, 33, 34}; }},
      {"logits_idx outside the batch", [](BatchParts& b) { b.logits_idx = {3}; }},
      {"arrays of different lengths", [](BatchParts& b) { b.positions.pop_back(); }},
      {"logits buffer too small", [](BatchParts& b) { b.logits_idx = {0, 1}; }},
  };
  for (const auto& [name, brk] : breaks) {
    BatchParts parts;
    brk(parts);
    const Status st = (*model)->Forward(parts.Make(), kv, pool, logits);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << name << ": " << st;
    ASSERT_TRUE(snapshot() == before) << name << " wrote to the KV storage";
  }
  BatchParts good;
  EXPECT_TRUE((*model)->Forward(good.Make(), kv, pool, logits).ok());
  EXPECT_FALSE(snapshot() == before);

  KvCacheSpec other = (*model)->KvSpec(4, 8);
  other.head_dim += 2;
  KvStorage wrong(other);
  BatchParts again;
  EXPECT_EQ((*model)->Forward(again.Make(), wrong, pool, logits).code(), absl::StatusCode::kInvalidArgument);

  BatchParts empty;
  empty.tokens.clear(), empty.positions.clear(), empty.seq_idx.clear(), empty.slots.clear(), empty.logits_idx.clear();
  EXPECT_TRUE((*model)->Forward(empty.Make(), kv, pool, {}).ok());
}

TEST(LlamaModelTest, CreateChecksWeightsAgainstConfig) {
  const ModelCase mc = Cases()[0];  // qkv_bias, tied
  auto expect = [&](absl::StatusCode code, const std::string& what, const std::function<void(ModelConfig&, ModelWeights&)>& brk) {
    ModelConfig c = mc.config;
    ModelWeights w = MakeRandomWeights(c, mc.options);
    brk(c, w);
    auto model = LlamaModel::Create(c, std::move(w));
    EXPECT_EQ(model.status().code(), code) << what << ": " << model.status();
  };
  expect(absl::StatusCode::kOk, "valid", [](ModelConfig&, ModelWeights&) {});
  expect(absl::StatusCode::kInvalidArgument, "wq transposed", [](ModelConfig&, ModelWeights& w) {
    std::swap(w.layers[1].wq.shape[0], w.layers[1].wq.shape[1]);
    w.layers[1].wq.shape[0] += 1;
  });
  expect(absl::StatusCode::kInvalidArgument, "missing bias", [](ModelConfig&, ModelWeights& w) { w.layers[0].bk = {}; });
  expect(absl::StatusCode::kInvalidArgument, "F16 norm", [](ModelConfig&, ModelWeights& w) { w.final_norm.dtype = DType::kF16; });
  expect(absl::StatusCode::kInvalidArgument, "missing layer", [](ModelConfig&, ModelWeights& w) { w.layers.pop_back(); });
  expect(absl::StatusCode::kInvalidArgument, "qk_norm without norms", [](ModelConfig& c, ModelWeights&) { c.qk_norm = true; });
  expect(absl::StatusCode::kInvalidArgument, "rope_freqs of the wrong size", [](ModelConfig&, ModelWeights& w) {
    w.rope_freqs = w.final_norm;  // [hidden], not [head_dim / 2]
  });
  expect(absl::StatusCode::kUnimplemented, "I32 matrix", [](ModelConfig&, ModelWeights& w) { w.layers[0].w_up.dtype = DType::kI32; });
  // Block types are supported, but only with rows of whole 32-blocks.
  expect(mc.config.hidden_size % 32 == 0 ? absl::StatusCode::kOk : absl::StatusCode::kInvalidArgument, "Q8_0 matrix",
         [](ModelConfig&, ModelWeights& w) { w.layers[0].w_up.dtype = DType::kQ8_0; });
  expect(absl::StatusCode::kInvalidArgument, "Q4_0 rows not whole blocks", [](ModelConfig&, ModelWeights& w) {
    w.layers[0].w_up.dtype = DType::kQ4_0;
    w.layers[0].w_up.shape[1] = 33;  // checked before the config shape? either way an error
  });
  expect(absl::StatusCode::kInvalidArgument, "invalid config", [](ModelConfig& c, ModelWeights&) { c.num_kv_heads = 3; });
}

}  // namespace
}  // namespace pagellm
