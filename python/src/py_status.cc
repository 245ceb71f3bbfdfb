// The StatusError translator and lossless-or-replaced UTF-8 decoding for Python strings.
#include "python/src/py_status.h"

namespace pagellm::python {

void RegisterStatusTranslator() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      PyObject* type = PyExc_RuntimeError;
      switch (e.status().code()) {
        case absl::StatusCode::kInvalidArgument:
        case absl::StatusCode::kOutOfRange:
        case absl::StatusCode::kFailedPrecondition:
          type = PyExc_ValueError;
          break;
        case absl::StatusCode::kNotFound:
          type = PyExc_FileNotFoundError;
          break;
        default:
          break;
      }
      PyErr_SetObject(type, DecodeUtf8(e.what()).ptr());
    }
  });
}

py::str DecodeUtf8(std::string_view bytes) {
  PyObject* s = PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "replace");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

}  // namespace pagellm::python
