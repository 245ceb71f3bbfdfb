// Engine internals shared by its .cc files: per-request and per-sequence bookkeeping.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/engine/engine.h"
#include "src/tokenizer/incremental_detokenizer.h"

namespace pagellm {

// Text state of one sequence: its incremental detokenizer and what has been reported.
struct Engine::SeqText {
  std::optional<IncrementalDetokenizer> detok;
  std::string text;
  size_t emitted_bytes = 0;
  size_t emitted_tokens = 0;
  size_t emitted_logprobs = 0;
};

struct Engine::TrackedRequest {
  EngineRequest request;
  absl::flat_hash_map<SeqId, SeqText> texts;
  std::vector<std::optional<PositionLogprobs>> prompt_logprobs;
  int64_t prompt_logprobs_done = 0;  // prompt positions whose logprobs are collected
  size_t hold_back = 0;
  RequestMetrics metrics;
  double last_output_time = 0;
  bool need_logprob_sum = false;  // best_of > n: rank sequences by cumulative logprob
  std::string error;              // why this request failed alone (see RequestOutput::error)
};

}  // namespace pagellm
