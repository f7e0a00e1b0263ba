#include "runtime/model_repository.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>

#include "runtime/model_config.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;

constexpr const char* kModelFileNames[] = {"model.onnx", "model.ort", "model.pt", "model.pth", "model.torchscript"};

// `name` is the folder's name in a repository; `given`, when set, is the
// config to use instead of the folder's config.pbtxt (a load request's).
RepositoryModel scan_model(const fs::path& dir, std::string name, const inference::ModelConfig* given) {
  RepositoryModel model;
  model.name = std::move(name);
  model.dir = dir.string();
  if (auto s = validate_model_name(model.name); !s.ok()) {
    model.status = s;
    return model;
  }
  const fs::path config_path = dir / "config.pbtxt";
  std::error_code ec;
  if (given != nullptr) {
    model.has_config = true;
    model.config = *given;
    if (!model.config.name().empty() && model.config.name() != model.name) {
      model.status = InvalidArgument("the config given for '" + model.name + "' names the model '" +
                                     model.config.name() + "': the name must match the model's");
      return model;
    }
  } else if (fs::exists(config_path, ec)) {
    model.has_config = true;
    auto config = read_model_config(config_path.string());
    if (!config.ok()) {
      model.status = config.status();
      return model;
    }
    model.config = std::move(config).value();
    if (!model.config.name().empty() && model.config.name() != model.name) {
      model.status = InvalidArgument("config.pbtxt of '" + model.name + "' names the model '" +
                                     model.config.name() + "': the name must match the folder");
      return model;
    }
  }
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory(ec))
      if (auto v = parse_version_folder(entry.path().filename().string())) model.available_versions.push_back(*v);
  std::sort(model.available_versions.begin(), model.available_versions.end());
  if (model.available_versions.empty()) {
    model.status = NotFound("model '" + model.name + "' has no version folder (e.g. " + model.dir + "/1/)");
    return model;
  }
  for (int64_t v : select_versions(model.config.version_policy(), model.available_versions)) {
    auto file = find_model_file((dir / std::to_string(v)).string(), model.config);
    if (!file.ok()) {
      model.status = file.status();
      return model;
    }
    model.versions.push_back({v, *file});
  }
  if (model.versions.empty())
    model.status = NotFound("the version policy of '" + model.name + "' selects none of its versions");
  return model;
}

}  // namespace

std::optional<int64_t> parse_version_folder(const std::string& name) {
  int64_t v = 0;
  const auto* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(name.data(), end, v);
  if (ec != std::errc() || ptr != end || v <= 0) return std::nullopt;
  return v;
}

Status validate_model_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return InvalidArgument("a model name must have 1 to 255 characters");
  if (name == "." || name == "..") return InvalidArgument("'" + std::string(name) + "' is not a model name");
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return InvalidArgument("model name '" + std::string(name) +
                             "' may only hold letters, digits, '_', '-' and '.'");
  return Status::Ok();
}

std::vector<int64_t> select_versions(const inference::ModelVersionPolicy& policy, std::vector<int64_t> available) {
  std::sort(available.begin(), available.end());
  switch (policy.policy_choice_case()) {
    case inference::ModelVersionPolicy::kAll:
      return available;
    case inference::ModelVersionPolicy::kSpecific: {
      std::vector<int64_t> chosen;
      for (int64_t v : available)
        if (std::find(policy.specific().versions().begin(), policy.specific().versions().end(), v) !=
            policy.specific().versions().end())
          chosen.push_back(v);
      return chosen;
    }
    case inference::ModelVersionPolicy::kLatest:
    default: {
      const std::size_t n = policy.has_latest() ? std::max<uint32_t>(policy.latest().num_versions(), 1) : 1;
      if (available.size() > n) available.erase(available.begin(), available.end() - static_cast<std::ptrdiff_t>(n));
      return available;
    }
  }
}

Result<std::string> find_model_file(const std::string& version_dir, const inference::ModelConfig& config) {
  std::error_code ec;
  if (!config.default_model_filename().empty()) {
    const std::string& name = config.default_model_filename();
    if (name.find('/') != std::string::npos || name == "." || name == "..")
      return InvalidArgument("default_model_filename '" + name + "' must be a plain file name");
    const fs::path file = fs::path(version_dir) / name;
    if (!fs::is_regular_file(file, ec)) return NotFound("model file " + file.string() + " does not exist");
    return file.string();
  }
  for (const char* name : kModelFileNames) {
    const fs::path file = fs::path(version_dir) / name;
    if (fs::is_regular_file(file, ec)) return file.string();
  }
  return NotFound("no model file in " + version_dir +
                  " (expected model.onnx, model.ort, model.pt, model.pth or model.torchscript, or set "
                  "default_model_filename in config.pbtxt)");
}

Result<std::vector<RepositoryModel>> scan_repository(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return NotFound("model repository '" + root + "' is not a directory");
  std::vector<RepositoryModel> models;
  for (const auto& entry : fs::directory_iterator(root, ec))
    if (entry.is_directory(ec) && entry.path().filename().string().front() != '.')
      models.push_back(scan_model(entry.path(), entry.path().filename().string(), nullptr));
  std::sort(models.begin(), models.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return models;
}

RepositoryModel scan_model_folder(const std::string& dir, std::string_view name, const inference::ModelConfig& config) {
  return scan_model(dir, std::string(name), &config);
}

Result<std::optional<RepositoryModel>> scan_repository_model(const std::string& root, std::string_view name) {
  POLARIS_RETURN_IF_ERROR(validate_model_name(name));
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return NotFound("model repository '" + root + "' is not a directory");
  const fs::path dir = fs::path(root) / std::string(name);
  // Hidden folders are never models, as in scan_repository.
  if (name.front() == '.' || !fs::is_directory(dir, ec)) return std::optional<RepositoryModel>();
  return std::optional<RepositoryModel>(scan_model(dir, std::string(name), nullptr));
}

}  // namespace polaris
