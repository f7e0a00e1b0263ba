// The Python tools some commands run in a child process (`quantize`,
// `prune`: compress.py; `pull` of torchvision weights:
// torchvision_export.py), so that Python's torch and onnxruntime never
// share a process with the engines Polaris serves with.
#pragma once

#include <string>

#include "core/status.h"

namespace polaris::cli {

// Exit status of a tool whose Python package is missing (its stderr says
// which and how to install it).
inline constexpr int kPythonToolMissing = 3;

// $POLARIS_PYTHON, else "python3" (found in PATH).
std::string python_interpreter();

// `<exe dir>/../share/polaris/<file>` for an installed binary, else the
// source tree's python/src/polaris/<file>; NotFound naming both.
Result<std::string> find_python_tool(const std::string& file);

}  // namespace polaris::cli
