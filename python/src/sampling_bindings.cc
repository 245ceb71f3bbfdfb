// _C.SamplingParams: the C++ struct field by field, and Validate with its client-facing messages.
#include <climits>
#include <cstdint>

#include <pybind11/stl.h>

#include "python/src/bindings.h"
#include "python/src/py_status.h"
#include "src/sample/sampling_params.h"

namespace pagellm::python {
namespace {

// Limits no value reaches: validation of the parameters' own ranges only.
SamplingLimits Unlimited() {
  SamplingLimits l;
  l.max_n = INT_MAX;
  l.max_logprobs = INT_MAX;
  l.max_stop_strings = INT_MAX;
  l.max_stop_string_bytes = INT_MAX;
  l.max_stop_token_ids = INT_MAX;
  l.max_logit_bias_entries = INT_MAX;
  l.max_beam_width = INT_MAX;
  return l;
}

}  // namespace

void BindSampling(py::module_& m) {
  py::class_<SamplingParams>(m, "SamplingParams")
      .def(py::init<>())
      .def_readwrite("n", &SamplingParams::n)
      .def_readwrite("best_of", &SamplingParams::best_of)
      .def_readwrite("temperature", &SamplingParams::temperature)
      .def_readwrite("top_p", &SamplingParams::top_p)
      .def_readwrite("top_k", &SamplingParams::top_k)
      .def_readwrite("min_p", &SamplingParams::min_p)
      .def_readwrite("presence_penalty", &SamplingParams::presence_penalty)
      .def_readwrite("frequency_penalty", &SamplingParams::frequency_penalty)
      .def_readwrite("repetition_penalty", &SamplingParams::repetition_penalty)
      .def_readwrite("logit_bias", &SamplingParams::logit_bias)
      .def_readwrite("seed", &SamplingParams::seed)
      .def_readwrite("max_tokens", &SamplingParams::max_tokens)
      .def_readwrite("min_tokens", &SamplingParams::min_tokens)
      .def_readwrite("stop", &SamplingParams::stop)
      .def_readwrite("stop_token_ids", &SamplingParams::stop_token_ids)
      .def_readwrite("ignore_eos", &SamplingParams::ignore_eos)
      .def_readwrite("include_stop_str_in_output", &SamplingParams::include_stop_str_in_output)
      .def_readwrite("skip_special_tokens", &SamplingParams::skip_special_tokens)
      .def_readwrite("logprobs", &SamplingParams::logprobs)
      .def_readwrite("prompt_logprobs", &SamplingParams::prompt_logprobs)
      .def_readwrite("use_beam_search", &SamplingParams::use_beam_search)
      .def_readwrite("length_penalty", &SamplingParams::length_penalty)
      .def(
          "validate",
          [](const SamplingParams& p, std::optional<int64_t> vocab_size) {
            ThrowIfError(vocab_size ? p.Validate(*vocab_size) : p.Validate(INT64_MAX, Unlimited()));
          },
          py::arg("vocab_size") = py::none(),
          "Raises ValueError with the engine's message if a field is out of range. Without a "
          "vocab_size only the fields' own ranges are checked (not the engine's limits).");
}

}  // namespace pagellm::python
