// Turns a Polaris Status into the Python exception a Python user expects,
// with the C++ message unchanged: ValueError for bad input, FileNotFoundError
// for a missing file, KeyError for an unknown model name, RuntimeError for
// engine failures and everything else.
#pragma once

#include <utility>

#include "core/status.h"

namespace polaris::python {

// What a NotFound refers to: a file on disk or a model's name.
enum class Missing { kFile, kModel };

[[noreturn]] void raise(const Status& status, Missing missing = Missing::kFile);

inline void check(const Status& status, Missing missing = Missing::kFile) {
  if (!status.ok()) raise(status, missing);
}

template <typename T>
T value_or_raise(Result<T> result, Missing missing = Missing::kFile) {
  if (!result.ok()) raise(result.status(), missing);
  return std::move(*result);
}

}  // namespace polaris::python
