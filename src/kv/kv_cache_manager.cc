// KvCacheManager: block-table bookkeeping on top of BlockPool.
#include "src/kv/kv_cache_manager.h"

#include <algorithm>

#include "src/base/check.h"

namespace pagellm {

KvCacheManager::KvCacheManager(const Options& options)
    : pool_(options.num_blocks, options.block_size, options.enable_prefix_caching),
      seed_(options.hash_seed ? SeedHashFromNumber(*options.hash_seed) : RandomSeedHash()),
      filled_(options.num_blocks, 0) {}

CachedPrefix KvCacheManager::FindCachedPrefix(std::span<const TokenId> tokens,
                                              std::string_view cache_salt) {
  CachedPrefix prefix;
  if (!pool_.caching_enabled() || tokens.empty()) return prefix;
  const int64_t bs = block_size();
  const int64_t max_blocks = (static_cast<int64_t>(tokens.size()) - 1) / bs;
  BlockHash parent = seed_;
  for (int64_t i = 0; i < max_blocks; ++i) {
    const auto block_tokens = tokens.subspan(i * bs, bs);
    const BlockHash h = HashBlock(parent, block_tokens, cache_salt);
    const auto hit = pool_.FindCached(h, block_tokens);
    if (!hit) break;
    prefix.blocks.push_back(*hit);
    prefix.hashes.push_back(h);
    parent = h;
  }
  prefix.num_tokens = static_cast<int64_t>(prefix.blocks.size()) * bs;
  cache_queries_ += static_cast<int64_t>(tokens.size());
  cache_hits_ += prefix.num_tokens;
  return prefix;
}

int64_t KvCacheManager::BlocksNeeded(SeqId seq, int64_t num_computed, int64_t num_new,
                                     const CachedPrefix* prefix) const {
  const int64_t bs = block_size();
  auto it = seqs_.find(seq);
  const std::vector<BlockId> empty;
  const std::vector<BlockId>& table = it == seqs_.end() ? empty : it->second.table;
  int64_t have = static_cast<int64_t>(table.size());
  int64_t revive = 0;  // cached free blocks the prefix takes out of the free list
  if (prefix != nullptr) {
    have += static_cast<int64_t>(prefix->blocks.size());
    for (BlockId b : prefix->blocks) revive += pool_.ref_cnt(b) == 0;
  }
  const int64_t want = (num_computed + num_new + bs - 1) / bs;
  int64_t need = std::max<int64_t>(0, want - have) + revive;
  // Copy-on-write: the block receiving position num_computed is shared and already exists.
  if (num_new > 0 && num_computed % bs != 0 && num_computed / bs < static_cast<int64_t>(table.size())) {
    if (pool_.ref_cnt(table[num_computed / bs]) > 1) ++need;
  }
  return need;
}

bool KvCacheManager::AllocateSlots(SeqId seq, std::span<const TokenId> tokens, int64_t num_computed,
                                   int64_t num_new, const CachedPrefix* prefix,
                                   std::string_view cache_salt, std::vector<BlockCopy>* copies) {
  const int64_t bs = block_size();
  const int64_t end = num_computed + num_new;
  DCHECK(static_cast<int64_t>(tokens.size()) >= end);
  if (BlocksNeeded(seq, num_computed, num_new, prefix) > pool_.num_free_blocks()) return false;

  SeqState& s = seqs_[seq];
  if (prefix != nullptr && !prefix->blocks.empty()) {
    // Precondition: a prefix is only applied to a sequence that owns no blocks yet.
    DCHECK(s.table.empty() && num_computed == prefix->num_tokens);
    pool_.Touch(prefix->blocks);  // before Allocate, which could otherwise evict them
    s.table = prefix->blocks;
    s.hashes = prefix->hashes;
  }
  // Copy-on-write of a shared, partly filled block about to receive new tokens.
  if (num_new > 0 && num_computed % bs != 0) {
    const int64_t idx = num_computed / bs;
    if (idx < static_cast<int64_t>(s.table.size()) && pool_.ref_cnt(s.table[idx]) > 1) {
      const BlockId old_block = s.table[idx];
      const BlockId fresh = pool_.Allocate(1)[0];
      filled_[fresh] = static_cast<int32_t>(num_computed % bs);
      copies->push_back({old_block, fresh});
      const BlockId drop[1] = {old_block};
      pool_.Free(drop);
      s.table[idx] = fresh;
    }
  }
  const int64_t want = (end + bs - 1) / bs;
  if (want > static_cast<int64_t>(s.table.size())) {
    for (BlockId b : pool_.Allocate(want - static_cast<int64_t>(s.table.size()))) {
      filled_[b] = 0;
      s.table.push_back(b);
    }
  }
  for (int64_t i = num_computed / bs; i < want && num_new > 0; ++i) {
    const int32_t upto = static_cast<int32_t>(std::min(bs, end - i * bs));
    filled_[s.table[i]] = std::max(filled_[s.table[i]], upto);
  }
  peak_used_ = std::max(peak_used_, pool_.num_used_blocks());
  // Register blocks that this step fills completely (their content is final once it runs).
  if (pool_.caching_enabled()) {
    const int64_t full = end / bs;
    for (int64_t i = static_cast<int64_t>(s.hashes.size()); i < full; ++i) {
      const auto block_tokens = tokens.subspan(i * bs, bs);
      const BlockHash h = HashBlock(ParentHash(s), block_tokens, cache_salt);
      s.hashes.push_back(h);
      pool_.Cache(s.table[i], h, block_tokens);
    }
  }
  return true;
}

void KvCacheManager::Fork(SeqId parent, SeqId child) {
  auto it = seqs_.find(parent);
  CHECK_MSG(it != seqs_.end(), "Fork of an unknown sequence");
  CHECK_MSG(!seqs_.contains(child), "Fork into an existing sequence");
  SeqState copy = it->second;  // copy before inserting: insertion may rehash
  pool_.Touch(copy.table);
  seqs_.emplace(child, std::move(copy));
}

void KvCacheManager::Free(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  std::vector<BlockId> reversed(it->second.table.rbegin(), it->second.table.rend());
  pool_.Free(reversed);
  seqs_.erase(it);
}

std::span<const BlockId> KvCacheManager::BlockTable(SeqId seq) const {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return {};
  return it->second.table;
}

KvCacheStats KvCacheManager::Stats() const {
  KvCacheStats st;
  st.num_blocks = pool_.num_blocks();
  st.used_blocks = pool_.num_used_blocks();
  st.peak_used_blocks = peak_used_;
  st.cached_blocks = pool_.num_cached_blocks();
  st.allocated_slots = st.used_blocks * block_size();
  for (BlockId b = 0; b < pool_.num_blocks(); ++b) {
    const int32_t r = pool_.ref_cnt(b);
    if (r > 0) st.stored_tokens += filled_[b];
    if (r > 1) ++st.shared_blocks;
  }
  st.prefix_cache_queries = cache_queries_;
  st.prefix_cache_hits = cache_hits_;
  return st;
}

}  // namespace pagellm
