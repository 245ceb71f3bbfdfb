// The pieces of the pagellm._C module, each bound by its own file.
#pragma once

#include <pybind11/pybind11.h>

namespace pagellm::python {

namespace py = pybind11;

void BindEngine(py::module_& m);     // engine_bindings.cc: EngineConfig, Engine, OutputStream
void BindSampling(py::module_& m);   // sampling_bindings.cc: SamplingParams
void BindTokenizer(py::module_& m);  // tokenizer_bindings.cc: Tokenizer, ChatTemplate

}  // namespace pagellm::python
