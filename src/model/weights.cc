// ModelWeights: owned storage for converted or generated tensors.
#include "src/model/weights.h"

#include <cstring>

namespace pagellm {

const void* ModelWeights::Own(const void* bytes, size_t n) {
  void* p = Allocate(n);
  if (n > 0) std::memcpy(p, bytes, n);
  return p;
}

void* ModelWeights::Allocate(size_t n, bool huge_pages) {
  owned.emplace_back(n == 0 ? 1 : n);
  if (huge_pages) owned.back().AdviseHugePages();
  return owned.back().data();
}

bool ModelWeights::IsOwned(const void* p) const {
  const auto* b = static_cast<const uint8_t*>(p);
  for (const AlignedBuffer<uint8_t>& o : owned) {
    if (b >= o.data() && b < o.data() + o.size()) return true;
  }
  return false;
}

std::vector<TensorView*> ModelWeights::Views() {
  std::vector<TensorView*> v = {&embed, &final_norm, &lm_head, &rope_freqs};
  for (LayerWeights& l : layers) {
    for (TensorView* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.bq, &l.bk, &l.bv, &l.q_norm, &l.k_norm,
                          &l.wo, &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down}) {
      v.push_back(t);
    }
  }
  return v;
}

std::vector<const TensorView*> ModelWeights::Views() const {
  const std::vector<TensorView*> all = const_cast<ModelWeights*>(this)->Views();
  return {all.begin(), all.end()};
}

}  // namespace pagellm
