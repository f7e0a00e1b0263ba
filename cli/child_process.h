// Running a helper program (the Python compression tools) as a child
// process: its stderr goes to ours, so the user sees its messages as they
// come; its stdout (a one-line JSON result) is captured, up to a bound.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace polaris::cli {

struct ChildResult {
  int exit_code = -1;  // 128 + N when killed by signal N
  std::string output;  // its stdout, at most kMaxChildOutput bytes
};

inline constexpr std::size_t kMaxChildOutput = 1 << 20;

// Runs argv[0] (searched in PATH) with argv; NotFound when it cannot start.
Result<ChildResult> run_child(const std::vector<std::string>& argv);

}  // namespace polaris::cli
