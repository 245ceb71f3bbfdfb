// ForwardBatch: the flat, token-major input of one forward pass over many sequences.
//
// Token i belongs to sequence seq_idx[i], sits at position positions[i], and its K/V is written
// to slots[i] (= block_id * block_size + offset). Attention for token i reads positions
// 0..positions[i] of its sequence through that sequence's block table, so the KV of earlier
// positions must already be stored (from earlier steps or from earlier tokens of this batch).
// Tokens of one sequence may appear in any number (a prefill chunk, one decode token, ...).
#pragma once

#include <cstdint>
#include <span>

#include "src/base/types.h"

namespace pagellm {

struct BatchSequence {
  std::span<const BlockId> block_table;  // logical block -> physical block
  int32_t context_len = 0;               // tokens of this sequence in the KV after this batch
};

struct ForwardBatch {
  std::span<const TokenId> tokens;      // [num_tokens]
  std::span<const int32_t> positions;   // [num_tokens]
  std::span<const int32_t> seq_idx;     // [num_tokens] index into seqs
  std::span<const int64_t> slots;       // [num_tokens]
  std::span<const BatchSequence> seqs;  // [num_seqs]
  std::span<const int32_t> logits_idx;  // [num_logits] batch rows whose logits are wanted

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
};

}  // namespace pagellm
