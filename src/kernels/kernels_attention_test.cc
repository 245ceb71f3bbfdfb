// Tests for PagedAttention: scalar kernel vs a direct softmax over gathered keys, every SIMD
// kernel vs scalar (GQA ratios, head sizes, block sizes, shuffled blocks), and batch invariance.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "src/kernels/isa_testutil.h"
#include "src/kernels/kernels.h"

namespace pagellm {
namespace {

struct AttentionCase {
  int64_t num_heads, num_kv_heads, head_dim, block_size;
};

// A random paged KV cache with a few sequences on shuffled physical blocks, and queries at random
// positions of those sequences.
struct PagedSetup {
  AttentionCase c;
  int64_t num_blocks = 0;
  std::vector<float> k_cache, v_cache;  // [num_blocks, num_kv_heads, block_size, head_dim]
  std::vector<std::vector<BlockId>> tables;
  std::vector<BlockTableView> table_views;
  std::vector<int32_t> positions, seq_idx;  // [num_tokens]
  std::vector<float> q;                     // [num_tokens, q_stride]
  int64_t q_stride = 0;

  PagedSetup(const AttentionCase& ac, std::mt19937& rng) : c(ac) {
    std::uniform_int_distribution<int> len_dist(1, 70);
    std::vector<int> lens = {len_dist(rng), len_dist(rng), len_dist(rng), 1};
    for (int len : lens) num_blocks += (len + c.block_size - 1) / c.block_size;
    num_blocks += 3;  // unused blocks holding garbage
    std::vector<BlockId> ids(num_blocks);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    size_t next = 0;
    for (int len : lens) {
      tables.emplace_back();
      for (int b = 0; b < (len + c.block_size - 1) / c.block_size; ++b) tables.back().push_back(ids[next++]);
    }
    for (const auto& t : tables) table_views.emplace_back(t);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    k_cache.resize(num_blocks * c.num_kv_heads * c.block_size * c.head_dim);
    v_cache.resize(k_cache.size());
    for (float& f : k_cache) f = dist(rng);
    for (float& f : v_cache) f = dist(rng);
    for (size_t s = 0; s < lens.size(); ++s) {
      std::uniform_int_distribution<int> pos_dist(0, lens[s] - 1);
      for (int i = 0; i < 4; ++i) {
        positions.push_back(i == 0 ? lens[s] - 1 : pos_dist(rng));
        seq_idx.push_back(static_cast<int32_t>(s));
      }
    }
    q_stride = c.num_heads * c.head_dim + 3;
    q.resize(positions.size() * q_stride);
    for (float& f : q) f = 2.0f * dist(rng);
  }
  int64_t num_tokens() const { return static_cast<int64_t>(positions.size()); }

  PagedAttentionArgs Args(float* out, int64_t first = 0, int64_t count = -1) const {
    PagedAttentionArgs a;
    a.q = q.data() + first * q_stride;
    a.q_stride = q_stride;
    a.out = out;
    a.k_cache = k_cache.data();
    a.v_cache = v_cache.data();
    a.num_tokens = count < 0 ? num_tokens() - first : count;
    a.num_heads = c.num_heads;
    a.num_kv_heads = c.num_kv_heads;
    a.head_dim = c.head_dim;
    a.block_size = c.block_size;
    a.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    a.positions = std::span<const int32_t>(positions).subspan(first, a.num_tokens);
    a.seq_idx = std::span<const int32_t>(seq_idx).subspan(first, a.num_tokens);
    a.block_tables = table_views;
    return a;
  }

  // Direct definition: gather keys 0..pos, softmax of scaled dot products, weighted sum of values.
  std::vector<double> Direct(int64_t t, int64_t h) const {
    const int64_t kvh = h / (c.num_heads / c.num_kv_heads);
    const int32_t pos = positions[t];
    const std::vector<BlockId>& table = tables[seq_idx[t]];
    auto at = [&](int64_t p) { return ((table[p / c.block_size] * c.num_kv_heads + kvh) * c.block_size + p % c.block_size) * c.head_dim; };
    std::vector<double> scores(pos + 1);
    for (int64_t p = 0; p <= pos; ++p) {
      double s = 0.0;
      for (int64_t e = 0; e < c.head_dim; ++e) s += double{q[t * q_stride + h * c.head_dim + e]} * k_cache[at(p) + e];
      scores[p] = s / std::sqrt(static_cast<double>(c.head_dim));
    }
    const double mx = *std::max_element(scores.begin(), scores.end());
    double sum = 0.0;
    for (double& s : scores) sum += (s = std::exp(s - mx));
    std::vector<double> out(c.head_dim, 0.0);
    for (int64_t p = 0; p <= pos; ++p) {
      for (int64_t e = 0; e < c.head_dim; ++e) out[e] += scores[p] / sum * v_cache[at(p) + e];
    }
    return out;
  }
};

const AttentionCase kCases[] = {
    {4, 4, 8, 1},   {4, 2, 64, 3},   {8, 2, 64, 16},  {8, 1, 128, 32}, {14, 2, 64, 16},
    {16, 2, 128, 16}, {6, 3, 24, 5}, {32, 4, 128, 32}, {2, 1, 256, 16}, {4, 4, 40, 2},
};

TEST(PagedAttentionTest, ScalarMatchesDirectSoftmax) {
  std::mt19937 rng(21);
  ThreadPool pool(1);
  const Kernels& scalar = *Kernels::ForIsa(KernelIsa::kScalar);
  for (const AttentionCase& c : kCases) {
    PagedSetup s(c, rng);
    std::vector<float> out(s.num_tokens() * c.num_heads * c.head_dim);
    scalar.PagedAttention(pool, s.Args(out.data()));
    for (int64_t t = 0; t < s.num_tokens(); ++t) {
      for (int64_t h = 0; h < c.num_heads; ++h) {
        const std::vector<double> want = s.Direct(t, h);
        for (int64_t e = 0; e < c.head_dim; ++e) {
          ASSERT_NEAR(out[(t * c.num_heads + h) * c.head_dim + e], want[e], 1e-6)
              << "heads " << c.num_heads << "/" << c.num_kv_heads << " hd " << c.head_dim << " bs " << c.block_size;
        }
      }
    }
  }
}

class PagedAttentionIsaTest : public testing::IsaTest {};

TEST_P(PagedAttentionIsaTest, MatchesScalar) {
  std::mt19937 rng(22);
  ThreadPool pool(2);
  const Kernels& scalar = *Kernels::ForIsa(KernelIsa::kScalar);
  double max_abs = 0.0;
  for (const AttentionCase& c : kCases) {
    PagedSetup s(c, rng);
    const size_t n = s.num_tokens() * c.num_heads * c.head_dim;
    std::vector<float> out(n + 1), ref(n + 1);
    out[n] = ref[n] = 12345.0f;  // sentinel: nothing written past the end
    kernels_->PagedAttention(pool, s.Args(out.data()));
    scalar.PagedAttention(pool, s.Args(ref.data()));
    for (size_t i = 0; i < n; ++i) {
      ASSERT_NEAR(out[i], ref[i], 2e-5) << "heads " << c.num_heads << "/" << c.num_kv_heads
                                        << " hd " << c.head_dim << " bs " << c.block_size << " i " << i;
      max_abs = std::max(max_abs, static_cast<double>(std::fabs(out[i] - ref[i])));
    }
    ASSERT_EQ(out[n], 12345.0f);
  }
  std::printf("[%s] PagedAttention vs scalar: max abs diff %.3g\n",
              std::string(kernels_->name()).c_str(), max_abs);
}

// A query's output bits do not depend on the other queries of the call or on the thread count.
TEST_P(PagedAttentionIsaTest, IsBatchInvariant) {
  std::mt19937 rng(23);
  ThreadPool pool1(1), pool2(2), pool3(3);
  for (const AttentionCase& c : kCases) {
    PagedSetup s(c, rng);
    const int64_t row = c.num_heads * c.head_dim;
    std::vector<float> all(s.num_tokens() * row);
    kernels_->PagedAttention(pool2, s.Args(all.data()));
    for (ThreadPool* pool : {&pool1, &pool3}) {
      for (int64_t t = 0; t < s.num_tokens(); ++t) {
        std::vector<float> one(row);
        kernels_->PagedAttention(*pool, s.Args(one.data(), t, 1));
        ASSERT_EQ(std::memcmp(one.data(), all.data() + t * row, row * sizeof(float)), 0) << "token " << t;
      }
      const int64_t first = 3, count = s.num_tokens() - 5;
      std::vector<float> part(count * row);
      kernels_->PagedAttention(*pool, s.Args(part.data(), first, count));
      ASSERT_EQ(std::memcmp(part.data(), all.data() + first * row, count * row * sizeof(float)), 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, PagedAttentionIsaTest, ::testing::ValuesIn(testing::AllIsas()),
                         testing::IsaParamName);

}  // namespace
}  // namespace pagellm
