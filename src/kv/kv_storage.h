// KvStorage: the physical K and V memory of every layer, carved into fixed-size blocks.
//
// Per layer, K and V each hold [num_blocks][num_kv_heads][block_size][head_dim] floats, so one head
// of one block is a contiguous [block_size, head_dim] tile. A token's slot is
// block_id * block_size + offset_in_block; a sequence's block table maps its logical block i
// (positions i*block_size .. i*block_size+block_size-1) to a physical BlockId:
//
//   positions:    0 ... 15 | 16 ... 31 | 32 .. 37 (partly full)
//   block table: [   7     |    2      |    9    ]      slot(p) = table[p / 16] * 16 + p % 16
#pragma once

#include <cstdint>
#include <vector>

#include "src/base/aligned_buffer.h"
#include "src/base/check.h"
#include "src/base/types.h"

namespace pagellm {

struct KvCacheSpec {
  int64_t num_layers = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t block_size = 16;  // tokens per block
  int64_t num_blocks = 0;

  int64_t floats_per_block() const { return num_kv_heads * block_size * head_dim; }
  // Bytes of K and V for one block across all layers.
  int64_t bytes_per_block() const { return 2 * num_layers * floats_per_block() * 4; }
};

class KvStorage {
 public:
  explicit KvStorage(const KvCacheSpec& spec);

  const KvCacheSpec& spec() const { return spec_; }
  int64_t block_size() const { return spec_.block_size; }
  int64_t num_blocks() const { return spec_.num_blocks; }
  uint64_t bytes() const { return static_cast<uint64_t>(spec_.num_blocks) * spec_.bytes_per_block(); }

  // Start of block `b` of layer `layer`: [num_kv_heads][block_size][head_dim].
  float* k_block(int64_t layer, BlockId b) { return k_[layer].data() + Offset(b); }
  float* v_block(int64_t layer, BlockId b) { return v_[layer].data() + Offset(b); }
  const float* k_block(int64_t layer, BlockId b) const { return k_[layer].data() + Offset(b); }
  const float* v_block(int64_t layer, BlockId b) const { return v_[layer].data() + Offset(b); }
  // Base of a layer's K or V (for kernels that index by slot themselves).
  float* k_layer(int64_t layer) { return k_[layer].data(); }
  float* v_layer(int64_t layer) { return v_[layer].data(); }
  const float* k_layer(int64_t layer) const { return k_[layer].data(); }
  const float* v_layer(int64_t layer) const { return v_[layer].data(); }

  // Copies K and V of block `src` to block `dst` in every layer (copy-on-write).
  void CopyBlock(BlockId src, BlockId dst);

  // How many blocks fit in `bytes` for this shape (spec.num_blocks ignored).
  static int64_t BlocksForBytes(const KvCacheSpec& shape, uint64_t bytes);

 private:
  int64_t Offset(BlockId b) const {
    DCHECK(b >= 0 && b < spec_.num_blocks);
    return static_cast<int64_t>(b) * spec_.floats_per_block();
  }

  KvCacheSpec spec_;
  std::vector<AlignedBuffer<float>> k_;  // [num_layers] of [num_blocks * floats_per_block]
  std::vector<AlignedBuffer<float>> v_;
};

}  // namespace pagellm
