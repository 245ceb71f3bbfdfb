// BlockPool: intrusive doubly-linked free list over block ids plus the hash index.
#include "src/kv/block_pool.h"

#include <algorithm>

#include "src/base/check.h"

namespace pagellm {

BlockPool::BlockPool(int64_t num_blocks, int64_t block_size, bool enable_caching)
    : block_size_(block_size),
      enable_caching_(enable_caching),
      ref_cnt_(num_blocks, 0),
      hash_(num_blocks),
      prev_(num_blocks, kNoBlock),
      next_(num_blocks, kNoBlock),
      in_free_list_(num_blocks, 0) {
  CHECK(num_blocks > 0 && block_size > 0);
  for (BlockId b = 0; b < num_blocks; ++b) PushTail(b);
}

void BlockPool::PushTail(BlockId b) {
  DCHECK(!in_free_list_[b]);
  prev_[b] = tail_;
  next_[b] = kNoBlock;
  if (tail_ != kNoBlock) next_[tail_] = b; else head_ = b;
  tail_ = b;
  in_free_list_[b] = 1;
  ++num_free_;
}

void BlockPool::Unlink(BlockId b) {
  DCHECK(in_free_list_[b]);
  if (prev_[b] != kNoBlock) next_[prev_[b]] = next_[b]; else head_ = next_[b];
  if (next_[b] != kNoBlock) prev_[next_[b]] = prev_[b]; else tail_ = prev_[b];
  prev_[b] = next_[b] = kNoBlock;
  in_free_list_[b] = 0;
  --num_free_;
}

void BlockPool::Uncache(BlockId b) {
  if (!hash_[b]) return;
  auto it = cached_.find(*hash_[b]);
  if (it != cached_.end() && it->second.block == b) cached_.erase(it);
  hash_[b].reset();
}

std::vector<BlockId> BlockPool::Allocate(int64_t n) {
  CHECK_MSG(n <= num_free_, "Allocate beyond free blocks: callers check num_free_blocks first");
  std::vector<BlockId> out;
  out.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    const BlockId b = head_;
    Unlink(b);
    Uncache(b);  // eviction of whatever this block held
    DCHECK(ref_cnt_[b] == 0);
    ref_cnt_[b] = 1;
    out.push_back(b);
  }
  return out;
}

void BlockPool::Touch(std::span<const BlockId> blocks) {
  for (BlockId b : blocks) {
    if (ref_cnt_[b] == 0) Unlink(b);
    ++ref_cnt_[b];
  }
}

void BlockPool::Free(std::span<const BlockId> blocks) {
  for (BlockId b : blocks) {
    DCHECK(ref_cnt_[b] > 0);
    if (--ref_cnt_[b] == 0) PushTail(b);
  }
}

std::optional<BlockId> BlockPool::FindCached(const BlockHash& hash, std::span<const TokenId> tokens) {
  if (!enable_caching_) return std::nullopt;
  auto it = cached_.find(hash);
  if (it == cached_.end() || !std::equal(tokens.begin(), tokens.end(), it->second.tokens.begin(),
                                         it->second.tokens.end())) {
    return std::nullopt;
  }
  return it->second.block;
}

void BlockPool::Cache(BlockId block, const BlockHash& hash, std::span<const TokenId> tokens) {
  if (!enable_caching_ || hash_[block]) return;
  DCHECK(static_cast<int64_t>(tokens.size()) == block_size_);
  auto [it, inserted] = cached_.try_emplace(hash, CachedBlock{block, {tokens.begin(), tokens.end()}});
  if (inserted) hash_[block] = hash;
}

void BlockPool::ResetCache() {
  cached_.clear();
  for (auto& h : hash_) h.reset();
}

std::vector<BlockId> BlockPool::FreeListForTest() const {
  std::vector<BlockId> out;
  for (BlockId b = head_; b != kNoBlock; b = next_[b]) out.push_back(b);
  return out;
}

}  // namespace pagellm
