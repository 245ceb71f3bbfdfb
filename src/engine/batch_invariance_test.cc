// Batch invariance: each request's greedy output is bitwise the same alone, in a batch of 16, with
// prefix caching on or off, with chunked prefill at several chunk sizes, and under preemption.
#include <random>

#include "gtest/gtest.h"
#include "src/engine/engine_testutil.h"
#include "src/testing/testing.h"

namespace pagellm {
namespace {

using testing::Greedy;
using testing::RunAll;

// 16 prompts of mixed lengths; pairs share prefixes so the prefix cache has something to find.
std::vector<std::vector<TokenId>> MixedPrompts(int64_t vocab) {
  std::mt19937 rng(123);
  std::uniform_int_distribution<TokenId> tok(3, static_cast<TokenId>(vocab - 1));
  const int lengths[16] = {1, 3, 5, 8, 13, 17, 21, 31, 33, 40, 47, 50, 63, 64, 65, 80};
  std::vector<std::vector<TokenId>> prompts;
  for (int i = 0; i < 16; ++i) {
    std::vector<TokenId> p;
    if (i % 4 == 3) p = prompts[i - 1];  // shares its neighbour's tokens as a prefix
    p.resize(lengths[i]);
    for (size_t j = (i % 4 == 3 ? std::min<size_t>(lengths[i - 1], lengths[i]) : 0); j < p.size(); ++j) p[j] = tok(rng);
    prompts.push_back(p);
  }
  return prompts;
}

using Factory = std::function<StatusOr<std::unique_ptr<Engine>>(const EngineConfig&)>;

void CheckInvariance(const Factory& make, int64_t vocab) {
  const auto prompts = MixedPrompts(vocab);
  const int kMaxTokens = 24;
  auto requests = [&] {
    std::vector<EngineRequest> r;
    for (size_t i = 0; i < prompts.size(); ++i) r.push_back(Greedy("r" + std::to_string(i), prompts[i], kMaxTokens));
    return r;
  };
  // Reference: every request alone in a fresh engine with default settings.
  std::vector<std::vector<TokenId>> alone;
  for (auto& r : requests()) {
    auto engine = make(EngineConfig{});
    ASSERT_TRUE(engine.ok()) << engine.status();
    auto out = RunAll(**engine, {r});
    alone.push_back(out.at(r.request_id).outputs[0].token_ids);
    ASSERT_EQ(alone.back().size(), static_cast<size_t>(kMaxTokens));
  }
  struct Variant {
    std::string name;
    EngineConfig config;
    bool expect_preemption = false;
  };
  std::vector<Variant> variants;
  variants.push_back({"batch of 16, prefix caching on", EngineConfig{}});
  {
    EngineConfig c;
    c.enable_prefix_caching = false;
    variants.push_back({"batch of 16, prefix caching off", c});
  }
  for (int64_t chunk : {5, 16, 37}) {
    EngineConfig c;
    c.max_num_batched_tokens = chunk;
    variants.push_back({"chunked prefill, budget " + std::to_string(chunk), c});
  }
  {
    EngineConfig c;
    c.num_blocks = 12;  // 16 requests of up to 104 tokens need far more: preemption must happen
    c.max_num_batched_tokens = 64;
    variants.push_back({"KV cache of 12 blocks", c, true});
  }
  {
    EngineConfig c;
    c.num_blocks = 16;
    c.block_size = 8;
    c.enable_prefix_caching = false;
    c.max_num_batched_tokens = 19;
    variants.push_back({"16 blocks of 8, no prefix cache, budget 19", c, true});
  }
  for (const Variant& v : variants) {
    auto engine = make(v.config);
    ASSERT_TRUE(engine.ok()) << engine.status();
    auto out = RunAll(**engine, requests());
    const EngineStats st = (*engine)->Stats();
    if (v.expect_preemption) {
      EXPECT_GT(st.num_preemptions, 0) << v.name;
    }
    EXPECT_EQ(st.kv.used_blocks, 0) << v.name;
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_EQ(out.at("r" + std::to_string(i)).outputs[0].token_ids, alone[i]) << v.name << ", request " << i;
    }
    std::printf("[invariance] %s: 16 requests identical, %lld preemptions, %lld prefix-cache hit tokens\n",
                v.name.c_str(), static_cast<long long>(st.num_preemptions),
                static_cast<long long>(st.kv.prefix_cache_hits));
  }
}

TEST(BatchInvarianceTest, RandomModelF32) {
  CheckInvariance([](const EngineConfig& c) { return testing::MakeRandomEngine(c, 7, DType::kF32); },
                  testing::RandomEngineModelConfig().vocab_size);
}

TEST(BatchInvarianceTest, RandomModelBf16) {
  CheckInvariance([](const EngineConfig& c) { return testing::MakeRandomEngine(c, 8, DType::kBF16); },
                  testing::RandomEngineModelConfig().vocab_size);
}

TEST(BatchInvarianceTest, Stories260K) {
  const std::string model = testing::StoriesModelPath("hf");
  if (model.empty()) GTEST_SKIP() << "../shared/models/stories260K not found";
  CheckInvariance(
      [&](const EngineConfig& c) {
        EngineConfig cfg = c;
        cfg.model = model;
        return Engine::Create(cfg);
      },
      512);
}

}  // namespace
}  // namespace pagellm
