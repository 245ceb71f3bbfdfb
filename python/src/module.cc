// pagellm._C: the native half of the `pagellm` package (see python/pagellm/__init__.py).
#include "python/src/bindings.h"
#include "python/src/py_status.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "pagellm native engine bindings (use the pagellm package, not this module)";
  pagellm::python::RegisterStatusTranslator();
  pagellm::python::BindSampling(m);
  pagellm::python::BindTokenizer(m);
  pagellm::python::BindEngine(m);
}
