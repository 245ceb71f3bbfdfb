// Block pool and KV cache manager tests with exact block ids, ref counts and eviction order.
#include "src/kv/kv_cache_manager.h"

#include <numeric>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pagellm {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<TokenId> Range(TokenId from, int64_t n) {
  std::vector<TokenId> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}

std::vector<BlockId> Table(const KvCacheManager& m, SeqId s) {
  auto t = m.BlockTable(s);
  return {t.begin(), t.end()};
}

KvCacheManager Make(int64_t num_blocks, bool caching = true, int64_t block_size = 4) {
  return KvCacheManager({.num_blocks = num_blocks, .block_size = block_size,
                         .enable_prefix_caching = caching, .hash_seed = 1});
}

TEST(BlockPoolTest, AllocatesFromTheHeadAndFreesToTheTail) {
  BlockPool pool(6, 4, true);
  EXPECT_THAT(pool.FreeListForTest(), ElementsAre(0, 1, 2, 3, 4, 5));
  EXPECT_THAT(pool.Allocate(3), ElementsAre(0, 1, 2));
  EXPECT_EQ(pool.num_free_blocks(), 3);
  EXPECT_EQ(pool.ref_cnt(1), 1);
  const BlockId order[] = {2, 0};
  pool.Free(order);
  EXPECT_THAT(pool.FreeListForTest(), ElementsAre(3, 4, 5, 2, 0));
  const BlockId one[] = {1};
  pool.Touch(one);
  EXPECT_EQ(pool.ref_cnt(1), 2);
  pool.Free(one);
  EXPECT_EQ(pool.ref_cnt(1), 1);
  EXPECT_THAT(pool.FreeListForTest(), ElementsAre(3, 4, 5, 2, 0));
}

TEST(BlockPoolTest, CachedFreeBlocksAreRevivedByTouchAndEvictedLru) {
  BlockPool pool(3, 2, true);
  const auto blocks = pool.Allocate(3);
  const BlockHash h0 = SeedHashFromNumber(10), h1 = SeedHashFromNumber(11);
  const TokenId t0[] = {1, 2}, t1[] = {3, 4};
  pool.Cache(blocks[0], h0, t0);
  pool.Cache(blocks[1], h1, t1);
  pool.Free(blocks);  // free list 0, 1, 2 (0 and 1 still cached)
  ASSERT_EQ(pool.FindCached(h1, t1), std::optional<BlockId>(1));
  const BlockId revive[] = {1};
  pool.Touch(revive);
  EXPECT_THAT(pool.FreeListForTest(), ElementsAre(0, 2));
  EXPECT_THAT(pool.Allocate(1), ElementsAre(0));  // evicts block 0's content
  EXPECT_FALSE(pool.FindCached(h0, t0).has_value());
  EXPECT_TRUE(pool.FindCached(h1, t1).has_value());
}

TEST(BlockPoolTest, HashHitWithDifferentTokensIsAMiss) {
  BlockPool pool(2, 2, true);
  const auto blocks = pool.Allocate(1);
  const BlockHash h = SeedHashFromNumber(5);
  const TokenId stored[] = {7, 8}, other[] = {7, 9};
  pool.Cache(blocks[0], h, stored);
  EXPECT_FALSE(pool.FindCached(h, other).has_value());  // a collision never returns wrong KV
  EXPECT_TRUE(pool.FindCached(h, stored).has_value());
}

TEST(KvCacheManagerTest, AllocatesBlocksAsTokensGrow) {
  auto m = Make(8);
  const auto tokens = Range(100, 12);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(m.AllocateSlots(1, tokens, 0, 10, nullptr, "", &copies));
  EXPECT_THAT(Table(m, 1), ElementsAre(0, 1, 2));
  EXPECT_EQ(m.Stats().stored_tokens, 10);
  EXPECT_EQ(m.Stats().allocated_slots, 12);
  ASSERT_TRUE(m.AllocateSlots(1, tokens, 10, 2, nullptr, "", &copies));  // fills block 2
  EXPECT_THAT(Table(m, 1), ElementsAre(0, 1, 2));
  const auto more = Range(100, 13);
  ASSERT_TRUE(m.AllocateSlots(1, more, 12, 1, nullptr, "", &copies));
  EXPECT_THAT(Table(m, 1), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(copies, IsEmpty());
  EXPECT_EQ(m.num_free_blocks(), 4);
}

TEST(KvCacheManagerTest, NoRoomIsAnAnswerAndChangesNothing) {
  auto m = Make(3, false);
  const auto tokens = Range(0, 20);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(m.AllocateSlots(1, tokens, 0, 8, nullptr, "", &copies));
  EXPECT_FALSE(m.AllocateSlots(2, tokens, 0, 8, nullptr, "", &copies));
  EXPECT_FALSE(m.HasSeq(2));
  EXPECT_FALSE(m.AllocateSlots(1, tokens, 8, 8, nullptr, "", &copies));
  EXPECT_THAT(Table(m, 1), ElementsAre(0, 1));
  EXPECT_EQ(m.num_free_blocks(), 1);
}

TEST(KvCacheManagerTest, ForkSharesBlocksAndCopiesOnWrite) {
  auto m = Make(8, false);
  const auto prompt = Range(0, 6);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(m.AllocateSlots(1, prompt, 0, 6, nullptr, "", &copies));  // [0 full | 1 half]
  m.Fork(1, 2);
  m.Fork(1, 3);
  EXPECT_EQ(m.pool().ref_cnt(0), 3);
  EXPECT_EQ(m.pool().ref_cnt(1), 3);
  EXPECT_EQ(m.Stats().shared_blocks, 2);
  EXPECT_EQ(m.Stats().stored_tokens, 6);  // shared blocks count once

  auto child = prompt;
  child.push_back(50);
  ASSERT_TRUE(m.AllocateSlots(2, child, 6, 1, nullptr, "", &copies));
  EXPECT_THAT(copies, ElementsAre(BlockCopy{1, 2}));
  EXPECT_THAT(Table(m, 2), ElementsAre(0, 2));
  EXPECT_EQ(m.pool().ref_cnt(1), 2);
  copies.clear();
  ASSERT_TRUE(m.AllocateSlots(3, child, 6, 1, nullptr, "", &copies));
  EXPECT_THAT(copies, ElementsAre(BlockCopy{1, 3}));
  copies.clear();
  // The parent is now the only owner of block 1: no copy.
  ASSERT_TRUE(m.AllocateSlots(1, child, 6, 1, nullptr, "", &copies));
  EXPECT_THAT(copies, IsEmpty());
  EXPECT_THAT(Table(m, 1), ElementsAre(0, 1));
  EXPECT_EQ(m.pool().ref_cnt(0), 3);
  m.Free(2);
  m.Free(3);
  m.Free(1);
  EXPECT_EQ(m.Stats().used_blocks, 0);
  EXPECT_EQ(m.num_free_blocks(), 8);
}

TEST(KvCacheManagerTest, CopyOnWriteNeedsRoomForTheCopy) {
  auto m = Make(2, false);
  const auto prompt = Range(0, 6);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(m.AllocateSlots(1, prompt, 0, 6, nullptr, "", &copies));
  m.Fork(1, 2);
  auto child = prompt;
  child.push_back(9);
  EXPECT_EQ(m.BlocksNeeded(2, 6, 1, nullptr), 1);
  EXPECT_FALSE(m.AllocateSlots(2, child, 6, 1, nullptr, "", &copies));
  EXPECT_THAT(copies, IsEmpty());
  EXPECT_THAT(Table(m, 2), ElementsAre(0, 1));
}

TEST(KvCacheManagerTest, PrefixCacheReusesFullBlocksAndEvictsTailFirst) {
  auto m = Make(6);
  const auto a = Range(0, 10);  // blocks [0..3] [4..7] full, [8,9] partial
  std::vector<BlockCopy> copies;
  auto none = m.FindCachedPrefix(a, "");
  EXPECT_EQ(none.num_tokens, 0);
  ASSERT_TRUE(m.AllocateSlots(1, a, 0, 10, &none, "", &copies));
  EXPECT_THAT(Table(m, 1), ElementsAre(0, 1, 2));
  EXPECT_EQ(m.Stats().cached_blocks, 2);
  m.Free(1);
  EXPECT_THAT(m.pool().FreeListForTest(), ElementsAre(3, 4, 5, 2, 1, 0));

  auto b = Range(0, 8);
  b.push_back(77);
  b.push_back(78);
  const auto prefix = m.FindCachedPrefix(b, "");
  EXPECT_THAT(prefix.blocks, ElementsAre(0, 1));
  EXPECT_EQ(prefix.num_tokens, 8);
  ASSERT_TRUE(m.AllocateSlots(2, b, 8, 2, &prefix, "", &copies));
  EXPECT_THAT(Table(m, 2), ElementsAre(0, 1, 3));
  EXPECT_EQ(m.Stats().prefix_cache_queries, 20);
  EXPECT_EQ(m.Stats().prefix_cache_hits, 8);

  // A different salt never shares blocks.
  EXPECT_EQ(m.FindCachedPrefix(b, "salt").num_tokens, 0);
}

TEST(KvCacheManagerTest, PrefixNeverCoversTheLastToken) {
  auto m = Make(6);
  const auto a = Range(0, 8);  // exactly two full blocks
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(m.AllocateSlots(1, a, 0, 8, nullptr, "", &copies));
  const auto prefix = m.FindCachedPrefix(a, "");
  EXPECT_THAT(prefix.blocks, ElementsAre(0));  // the second block holds the last token
  ASSERT_TRUE(m.AllocateSlots(2, a, 4, 4, &prefix, "", &copies));
  EXPECT_THAT(Table(m, 2), ElementsAre(0, 2));
  EXPECT_EQ(m.pool().ref_cnt(0), 2);
}

TEST(KvCacheManagerTest, CachedFreeBlocksCountAsRoomButRevivingThemCostsIt) {
  auto m = Make(3);
  const auto a = Range(0, 9);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(m.AllocateSlots(1, a, 0, 9, nullptr, "", &copies));  // 3 blocks, 2 cached
  m.Free(1);
  EXPECT_EQ(m.num_free_blocks(), 3);
  const auto prefix = m.FindCachedPrefix(a, "");
  ASSERT_EQ(prefix.blocks.size(), 2u);
  EXPECT_EQ(m.BlocksNeeded(2, 8, 1, &prefix), 3);  // revive 2 + one new block
  ASSERT_TRUE(m.AllocateSlots(2, a, 8, 1, &prefix, "", &copies));
  EXPECT_EQ(m.num_free_blocks(), 0);
}

TEST(KvCacheManagerTest, InternalWasteIsTheEmptyTailOfLastBlocks) {
  auto m = Make(64, false, 16);
  std::vector<BlockCopy> copies;
  const auto t = Range(0, 100);
  ASSERT_TRUE(m.AllocateSlots(1, t, 0, 100, nullptr, "", &copies));  // 7 blocks, 12 empty slots
  ASSERT_TRUE(m.AllocateSlots(2, t, 0, 32, nullptr, "", &copies));   // 2 full blocks
  const auto st = m.Stats();
  EXPECT_EQ(st.allocated_slots, 9 * 16);
  EXPECT_EQ(st.stored_tokens, 132);
  EXPECT_NEAR(st.internal_waste(), 12.0 / 144.0, 1e-12);
}

}  // namespace
}  // namespace pagellm
