// SchedulerOutput: the contract between the scheduler and the model runner for one engine step.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "src/kv/kv_cache_manager.h"
#include "src/sched/request.h"

namespace pagellm {

// One sequence's share of the step: compute tokens [start, start + num_tokens) of seq->tokens.
struct ScheduledSeq {
  Request* request = nullptr;
  Sequence* seq = nullptr;
  int64_t start = 0;
  int64_t num_tokens = 0;        // 0 for a sequence forked this step (it samples from its parent)
  bool sample = false;           // the step reaches the end of the known tokens: sample one more
  int parent_entry = -1;         // for forked children: the entry whose logits they sample from
  std::span<const BlockId> block_table;  // valid until the next Schedule()
};

struct SchedulerOutput {
  std::vector<ScheduledSeq> entries;
  std::vector<BlockCopy> block_copies;  // carry out before the forward pass (copy-on-write)
  int64_t num_batched_tokens = 0;
  int64_t num_preempted = 0;

  bool empty() const { return entries.empty(); }
};

}  // namespace pagellm
