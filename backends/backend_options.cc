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

std::vector<std::string> requested_providers(const LoadOptions& options) {
  const auto it = options.parameters.find(kProviderParameter);
  if (it == options.parameters.end()) return options.providers;
  std::vector<std::string> out;
  std::string item;
  for (std::size_t i = 0; i <= it->second.size(); ++i) {
    const char c = i < it->second.size() ? it->second[i] : ',';
    if (c == ',') {
      if (!item.empty()) out.push_back(item);
      item.clear();
    } else if (c != ' ' && c != '\t') {
      item += c;
    }
  }
  return out;
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
