#include "errors.h"

#include <Python.h>
#include <nanobind/nanobind.h>

namespace polaris::python {

void raise(const Status& status, Missing missing) {
  PyObject* type = PyExc_RuntimeError;
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kUnimplemented:
      type = PyExc_ValueError;
      break;
    case StatusCode::kNotFound:
      type = missing == Missing::kFile ? PyExc_FileNotFoundError : PyExc_KeyError;
      break;
    default:
      break;
  }
  PyErr_SetString(type, status.message().c_str());
  throw nanobind::python_error();
}

}  // namespace polaris::python
