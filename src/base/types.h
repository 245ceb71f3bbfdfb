// Id types shared by every layer: tokens, KV blocks, sequences.
#pragma once

#include <cstdint>

namespace pagellm {

using TokenId = int32_t;  // index into the vocabulary
using BlockId = int32_t;  // index of a physical KV block in the pool
using SeqId = int64_t;    // a sequence (one request may own several: n > 1, beams)

inline constexpr BlockId kNoBlock = -1;

}  // namespace pagellm
