// ModelRunner: batch assembly (token-major), block copies, forward, logits row bookkeeping.
#include "src/runner/model_runner.h"

namespace pagellm {

StatusOr<RunnerOutput> ModelRunner::Execute(const SchedulerOutput& out, std::span<const uint8_t> all_rows) {
  for (const BlockCopy& c : out.block_copies) kv_->CopyBlock(c.src, c.dst);

  tokens_.clear();
  positions_.clear();
  seq_idx_.clear();
  slots_.clear();
  seqs_.clear();
  logits_idx_.clear();
  RunnerOutput result;
  result.vocab_size = model_->config().vocab_size;
  result.first_row.assign(out.entries.size(), -1);
  result.num_rows.assign(out.entries.size(), 0);
  const int64_t bs = kv_->block_size();

  for (size_t i = 0; i < out.entries.size(); ++i) {
    const ScheduledSeq& e = out.entries[i];
    if (e.num_tokens == 0) continue;
    const int32_t seq_index = static_cast<int32_t>(seqs_.size());
    seqs_.push_back({e.block_table, static_cast<int32_t>(e.start + e.num_tokens)});
    const bool every_row = i < all_rows.size() && all_rows[i] != 0;
    for (int64_t p = e.start; p < e.start + e.num_tokens; ++p) {
      const int64_t row = static_cast<int64_t>(tokens_.size());
      tokens_.push_back(e.seq->tokens[p]);
      positions_.push_back(static_cast<int32_t>(p));
      seq_idx_.push_back(seq_index);
      // Precondition (scheduler): the block table covers every scheduled position.
      slots_.push_back(static_cast<int64_t>(e.block_table[p / bs]) * bs + p % bs);
      const bool last = p == e.start + e.num_tokens - 1;
      if (every_row || (last && e.sample)) {
        if (result.first_row[i] < 0) result.first_row[i] = static_cast<int64_t>(logits_idx_.size());
        ++result.num_rows[i];
        logits_idx_.push_back(static_cast<int32_t>(row));
      }
    }
  }
  for (size_t i = 0; i < out.entries.size(); ++i) {
    const ScheduledSeq& e = out.entries[i];
    if (e.parent_entry >= 0) {
      // A forked child samples from the parent's last row.
      const int64_t p = e.parent_entry;
      result.first_row[i] = result.first_row[p] + result.num_rows[p] - 1;
      result.num_rows[i] = 1;
    }
  }
  const size_t logits_size = logits_idx_.size() * static_cast<size_t>(result.vocab_size);
  logits_.EnsureSize(logits_size);
  if (!tokens_.empty()) {
    ForwardBatch batch;
    batch.tokens = tokens_;
    batch.positions = positions_;
    batch.seq_idx = seq_idx_;
    batch.slots = slots_;
    batch.seqs = seqs_;
    batch.logits_idx = logits_idx_;
    RETURN_IF_ERROR(model_->Forward(batch, *kv_, *pool_, {logits_.data(), logits_size}));
  }
  result.logits = {logits_.data(), logits_size};
  return result;
}

}  // namespace pagellm
