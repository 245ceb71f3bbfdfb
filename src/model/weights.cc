// ModelWeights: owned storage for converted or generated tensors.
#include "src/model/weights.h"

#include <cstring>

namespace pagellm {

const void* ModelWeights::Own(const void* bytes, size_t n) {
  void* p = Allocate(n);
  if (n > 0) std::memcpy(p, bytes, n);
  return p;
}

void* ModelWeights::Allocate(size_t n) {
  owned.emplace_back(n == 0 ? 1 : n);
  return owned.back().data();
}

}  // namespace pagellm
