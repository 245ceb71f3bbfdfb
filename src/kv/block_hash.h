// BlockHash: the chained, salted SHA-256 identity of a full KV block's contents (prefix caching).
//
//   hash(block i) = SHA-256(hash(block i-1) || token ids of block i || extra keys)
//   hash(block -1) = a random per-process seed, so hashes cannot be predicted across processes.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "src/base/types.h"

namespace pagellm {

struct BlockHash {
  std::array<uint8_t, 32> bytes{};
  bool operator==(const BlockHash& o) const { return bytes == o.bytes; }
  template <typename H>
  friend H AbslHashValue(H h, const BlockHash& b) {
    uint64_t x;
    std::memcpy(&x, b.bytes.data(), 8);  // already uniformly distributed
    return H::combine(std::move(h), x);
  }
};

// A seed hash drawn from the OS random source (one per KvCacheManager unless given).
BlockHash RandomSeedHash();
// A fixed seed hash from a number (tests and reproducible runs).
BlockHash SeedHashFromNumber(uint64_t seed);

// Hash of one full block given its parent's hash; `extra` carries request-level keys such as a
// cache salt (requests with different salts never share blocks).
BlockHash HashBlock(const BlockHash& parent, std::span<const TokenId> tokens, std::string_view extra);

}  // namespace pagellm
