// ModelRunner: turns a SchedulerOutput into one flat ForwardBatch, carries out the step's KV block
// copies, runs the model and hands back the logits rows the step needs.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "src/base/aligned_buffer.h"
#include "src/base/status.h"
#include "src/base/thread_pool.h"
#include "src/kv/kv_storage.h"
#include "src/model/batch.h"
#include "src/model/llama.h"
#include "src/sched/scheduler_output.h"

namespace pagellm {

struct RunnerOutput {
  int64_t vocab_size = 0;
  std::span<const float> logits;  // [num_rows, vocab]
  // For entry i of the SchedulerOutput: the first logits row and how many rows it has. A sampling
  // entry's last row gives its next token; entries that asked for prompt logprobs have one row per
  // computed token. Forked children point at their parent's rows. -1 when the entry has no rows.
  std::vector<int64_t> first_row;
  std::vector<int64_t> num_rows;

  std::span<const float> Row(int64_t r) const {
    return logits.subspan(static_cast<size_t>(r * vocab_size), static_cast<size_t>(vocab_size));
  }
};

class ModelRunner {
 public:
  ModelRunner(LlamaModel* model, KvStorage* kv, ThreadPool* pool) : model_(model), kv_(kv), pool_(pool) {}

  // `all_rows[i]`: entry i wants logits for every token it computes (prompt logprobs), not only the
  // last. The returned spans stay valid until the next call.
  StatusOr<RunnerOutput> Execute(const SchedulerOutput& out, std::span<const uint8_t> all_rows = {});

 private:
  LlamaModel* model_;
  KvStorage* kv_;
  ThreadPool* pool_;
  // Batch arrays, reused across steps.
  std::vector<TokenId> tokens_;
  std::vector<int32_t> positions_, seq_idx_, logits_idx_;
  std::vector<int64_t> slots_;
  std::vector<BatchSequence> seqs_;
  AlignedBuffer<float> logits_;
};

}  // namespace pagellm
