// KvStorage: allocation and block copies of the physical KV memory.
#include "src/kv/kv_storage.h"

#include <cstring>

namespace pagellm {

KvStorage::KvStorage(const KvCacheSpec& spec) : spec_(spec) {
  CHECK(spec.num_layers > 0 && spec.num_kv_heads > 0 && spec.head_dim > 0 && spec.block_size > 0 &&
        spec.num_blocks > 0);
  const size_t n = static_cast<size_t>(spec.num_blocks * spec.floats_per_block());
  k_.resize(spec.num_layers);
  v_.resize(spec.num_layers);
  for (int64_t l = 0; l < spec.num_layers; ++l) {
    k_[l].Resize(n);
    v_[l].Resize(n);
  }
}

void KvStorage::CopyBlock(BlockId src, BlockId dst) {
  const size_t bytes = static_cast<size_t>(spec_.floats_per_block()) * sizeof(float);
  for (int64_t l = 0; l < spec_.num_layers; ++l) {
    std::memcpy(k_block(l, dst), k_block(l, src), bytes);
    std::memcpy(v_block(l, dst), v_block(l, src), bytes);
  }
}

int64_t KvStorage::BlocksForBytes(const KvCacheSpec& shape, uint64_t bytes) {
  const int64_t per_block = shape.bytes_per_block();
  return per_block <= 0 ? 0 : static_cast<int64_t>(bytes / static_cast<uint64_t>(per_block));
}

}  // namespace pagellm
