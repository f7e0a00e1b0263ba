#include "cli/python_tools.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/executable_dir.h"

namespace polaris::cli {

namespace fs = std::filesystem;

std::string python_interpreter() {
  const char* env = std::getenv("POLARIS_PYTHON");
  return env != nullptr && *env != '\0' ? env : "python3";
}

Result<std::string> find_python_tool(const std::string& file) {
  const std::vector<fs::path> candidates{fs::path(executable_dir()) / ".." / "share" / "polaris" / file,
                                         fs::path(POLARIS_SOURCE_DIR) / "python" / "src" / "polaris" / file};
  std::error_code ec;
  for (const fs::path& p : candidates)
    if (fs::is_regular_file(p, ec)) return fs::weakly_canonical(p, ec).string();
  return NotFound(fmt::format("the Python tool {} is in neither {} nor {}", file, candidates[0].string(),
                              candidates[1].string()));
}

}  // namespace polaris::cli
