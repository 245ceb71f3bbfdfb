// BlockPool: reference-counted KV blocks, the free list in eviction order, and the prefix cache
// index (hash -> block) over full blocks.
//
// A block is in exactly one of three states:
//   in use      ref_cnt > 0, not in the free list (maybe cached: then immutable)
//   cached free ref_cnt == 0, in the free list, still findable by hash (a prefix-cache hit
//               revives it); evicted when the free list hands it out again
//   free        ref_cnt == 0, in the free list, no hash
//
// Free list:  head -> [least recently freed] ... [most recently freed] <- tail
// Allocate pops from the head; Free appends to the tail, so cached content is evicted LRU.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/base/types.h"
#include "src/kv/block_hash.h"

namespace pagellm {

class BlockPool {
 public:
  BlockPool(int64_t num_blocks, int64_t block_size, bool enable_caching);

  int64_t num_blocks() const { return static_cast<int64_t>(ref_cnt_.size()); }
  int64_t block_size() const { return block_size_; }
  bool caching_enabled() const { return enable_caching_; }
  // Blocks that Allocate can hand out (free + cached free).
  int64_t num_free_blocks() const { return num_free_; }
  int64_t num_used_blocks() const { return num_blocks() - num_free_; }
  int32_t ref_cnt(BlockId b) const { return ref_cnt_[b]; }
  bool is_cached(BlockId b) const { return hash_[b].has_value(); }

  // Pops `n` blocks from the head of the free list (evicting their cached content) with ref 1.
  // Precondition: n <= num_free_blocks().
  std::vector<BlockId> Allocate(int64_t n);

  // Takes one more reference to each block; a cached free block leaves the free list.
  void Touch(std::span<const BlockId> blocks);

  // Drops one reference from each block, in order; blocks reaching 0 join the free list tail in
  // that order (so pass a sequence's blocks last-first to evict its tail before its prefix).
  void Free(std::span<const BlockId> blocks);

  // The cached block holding exactly `tokens` under `hash`, if any (tokens are compared too, so a
  // hash collision can never return wrong KV).
  std::optional<BlockId> FindCached(const BlockHash& hash, std::span<const TokenId> tokens);

  // Registers a full, in-use block under `hash`. No-op when caching is off, when the block is
  // already cached, or when another block already holds this hash.
  void Cache(BlockId block, const BlockHash& hash, std::span<const TokenId> tokens);

  // Drops every cached hash (e.g. after weights change). Blocks stay where they are.
  void ResetCache();

  int64_t num_cached_blocks() const { return static_cast<int64_t>(cached_.size()); }

  // Free-list order from head to tail (tests).
  std::vector<BlockId> FreeListForTest() const;

 private:
  void PushTail(BlockId b);
  void Unlink(BlockId b);
  void Uncache(BlockId b);

  int64_t block_size_;
  bool enable_caching_;
  std::vector<int32_t> ref_cnt_;                 // [num_blocks]
  std::vector<std::optional<BlockHash>> hash_;   // [num_blocks] set while cached
  std::vector<BlockId> prev_, next_;             // [num_blocks] free-list links
  std::vector<uint8_t> in_free_list_;            // [num_blocks]
  BlockId head_ = kNoBlock, tail_ = kNoBlock;
  int64_t num_free_ = 0;
  // hash -> (block, its tokens); the token copy lets lookups verify content.
  struct CachedBlock {
    BlockId block;
    std::vector<TokenId> tokens;
  };
  absl::flat_hash_map<BlockHash, CachedBlock> cached_;
};

}  // namespace pagellm
