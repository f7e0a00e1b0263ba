#include "batch/model_parameters.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/model_config.h"

namespace polaris::batch {
namespace {

namespace fs = std::filesystem;

Result<std::map<std::string, std::string>> parameters_of(const std::string& text, const std::string& source) {
  POLARIS_ASSIGN_OR_RETURN(auto parsed, parse_model_config(text, source));
  std::map<std::string, std::string> parameters;
  for (const auto& [key, value] : parsed.parameters()) parameters[key] = value.string_value();
  return parameters;
}

}  // namespace

Result<std::map<std::string, std::string>> model_parameters(const std::string& model_path,
                                                            const std::string& config_text) {
  if (!config_text.empty()) return parameters_of(config_text, "the model's config");
  const fs::path file(model_path);
  for (const fs::path& dir : {file.parent_path(), file.parent_path().parent_path()}) {
    const fs::path config = dir / "config.pbtxt";
    std::error_code ec;
    if (dir.empty() || !fs::is_regular_file(config, ec)) continue;
    std::ifstream in(config);
    std::stringstream text;
    text << in.rdbuf();
    return parameters_of(text.str(), config.string());
  }
  return std::map<std::string, std::string>{};
}

}  // namespace polaris::batch
