#include "backends/backend.h"

#include <filesystem>

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

ModelMetadata base_metadata(const std::string& path, std::string framework, uint64_t file_size,
                            uint64_t predicted_memory, const LoadOptions& options) {
  ModelMetadata md;
  md.name = options.model_name.empty() ? std::filesystem::path(path).stem().string() : options.model_name;
  md.framework = std::move(framework);
  md.path = path;
  md.file_size_bytes = file_size;
  md.predicted_memory_bytes = predicted_memory;
  md.optimization_level = static_cast<int>(options.optimization_level);
  return md;
}

}  // namespace polaris
