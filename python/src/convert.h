// Engine outputs -> plain Python values (dicts, lists, tuples) that pagellm/outputs.py wraps in
// vLLM's classes.
#pragma once

#include <pybind11/pybind11.h>

#include "src/engine/output.h"
#include "src/tokenizer/tokenizer.h"

namespace pagellm::python {

namespace py = pybind11;

// {"request_id", "prompt_token_ids", "prompt_logprobs", "outputs": [{"index", "text",
// "token_ids", "cumulative_logprob", "logprobs", "finish_reason", "stop_reason"}], "finished",
// "metrics": {...}}. Logprobs are per position {token_id: (logprob, rank, decoded_token)}, the
// chosen token first (the first prompt position is None); lists are empty when logprobs were not
// asked for (the caller knows whether they were). `tok` (may be null) decodes logprob tokens.
py::dict RequestOutputToPython(const RequestOutput& output, const Tokenizer* tok);

}  // namespace pagellm::python
