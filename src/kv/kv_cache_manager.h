// KvCacheManager: the block tables of all sequences over one BlockPool — allocation, prefix-cache
// reuse, fork with copy-on-write, free, and live accounting. Never touches KV memory itself: copies
// are returned as BlockCopy orders for the model runner to carry out before the next forward pass.
//
// Sequence s with 38 tokens at block size 16 (only the last block may be partly empty):
//   table(s) = [ 7 | 2 | 9 ]     block 9 holds positions 32..37, slots 144..149 of 144..159
// After Fork(s, t), t's table is the same list and every block has one more reference; when t
// then writes position 38, block 9 is shared (ref 2) so t gets a fresh copy (say 4) first:
//   table(t) = [ 7 | 2 | 4 ]     BlockCopy{9 -> 4}
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/base/types.h"
#include "src/kv/block_pool.h"

namespace pagellm {

struct BlockCopy {
  BlockId src = kNoBlock;
  BlockId dst = kNoBlock;
  bool operator==(const BlockCopy&) const = default;
};

// Full cached blocks found for a new sequence's leading tokens.
struct CachedPrefix {
  std::vector<BlockId> blocks;
  std::vector<BlockHash> hashes;
  int64_t num_tokens = 0;  // blocks.size() * block_size
};

struct KvCacheStats {
  int64_t num_blocks = 0;
  int64_t used_blocks = 0;       // ref_cnt > 0
  int64_t peak_used_blocks = 0;  // the most ever in use at once
  int64_t shared_blocks = 0;     // ref_cnt > 1
  int64_t cached_blocks = 0;     // findable by hash (in use or free)
  int64_t allocated_slots = 0;   // used_blocks * block_size
  int64_t stored_tokens = 0;     // filled slots of used blocks (a shared block counts once)
  int64_t prefix_cache_queries = 0;  // tokens looked up (vLLM counts tokens, not blocks)
  int64_t prefix_cache_hits = 0;     // tokens found
  double usage() const { return num_blocks == 0 ? 0.0 : double(used_blocks) / double(num_blocks); }
  // Share of allocated slots that hold no token (only partly filled last blocks contribute).
  double internal_waste() const {
    return allocated_slots == 0 ? 0.0 : 1.0 - double(stored_tokens) / double(allocated_slots);
  }
};

class KvCacheManager {
 public:
  struct Options {
    int64_t num_blocks = 0;
    int64_t block_size = 16;
    bool enable_prefix_caching = true;
    std::optional<uint64_t> hash_seed;  // default: a random per-process seed
  };
  explicit KvCacheManager(const Options& options);

  int64_t block_size() const { return pool_.block_size(); }
  int64_t num_free_blocks() const { return pool_.num_free_blocks(); }
  const BlockPool& pool() const { return pool_; }

  // The longest run of cached full blocks matching the start of `tokens`, never covering the last
  // token (it must be computed to yield logits). Nothing is referenced until AllocateSlots.
  CachedPrefix FindCachedPrefix(std::span<const TokenId> tokens, std::string_view cache_salt);

  // Reserves slots for positions [num_computed, num_computed + num_new) of `seq`. `tokens` holds
  // the sequence's known tokens (at least num_computed + num_new) and is used to hash blocks that
  // become full. A new sequence may pass `prefix` (then num_computed == prefix->num_tokens).
  // Returns false and changes nothing when the pool lacks room. Copy-on-write orders are appended
  // to `copies`.
  bool AllocateSlots(SeqId seq, std::span<const TokenId> tokens, int64_t num_computed,
                     int64_t num_new, const CachedPrefix* prefix, std::string_view cache_salt,
                     std::vector<BlockCopy>* copies);

  // Blocks AllocateSlots would need for these arguments (0 if it can reuse what is there).
  int64_t BlocksNeeded(SeqId seq, int64_t num_computed, int64_t num_new,
                       const CachedPrefix* prefix) const;

  // `child` starts with the same blocks as `parent` (one more reference each).
  void Fork(SeqId parent, SeqId child);
  // Releases every block of `seq`, tail first (so its prefix stays cached longest).
  void Free(SeqId seq);

  bool HasSeq(SeqId seq) const { return seqs_.contains(seq); }
  std::span<const BlockId> BlockTable(SeqId seq) const;
  KvCacheStats Stats() const;

 private:
  struct SeqState {
    std::vector<BlockId> table;
    std::vector<BlockHash> hashes;  // of the leading full blocks, chained
  };
  const BlockHash& ParentHash(const SeqState& s) const {
    return s.hashes.empty() ? seed_ : s.hashes.back();
  }

  BlockPool pool_;
  BlockHash seed_;
  std::vector<int32_t> filled_;  // [num_blocks] token slots written in each block
  int64_t peak_used_ = 0;
  int64_t cache_queries_ = 0;
  int64_t cache_hits_ = 0;
  absl::flat_hash_map<SeqId, SeqState> seqs_;
};

}  // namespace pagellm
