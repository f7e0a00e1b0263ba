#include "backends/backend.h"

namespace polaris {

std::optional<OptimizationLevel> parse_optimization_level(std::string_view text) {
  if (text == "0" || text == "disable") return OptimizationLevel::kDisable;
  if (text == "1" || text == "basic") return OptimizationLevel::kBasic;
  if (text == "2" || text == "all") return OptimizationLevel::kAll;
  if (text == "extended") return OptimizationLevel::kExtended;
  return std::nullopt;
}

std::string_view to_string(OptimizationLevel level) {
  switch (level) {
    case OptimizationLevel::kDisable: return "disable";
    case OptimizationLevel::kBasic: return "basic";
    case OptimizationLevel::kExtended: return "extended";
    case OptimizationLevel::kAll: return "all";
  }
  return "all";
}

}  // namespace polaris
