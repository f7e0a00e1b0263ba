// `polaris validate PATH`: loads a model file, a model folder or a whole
// repository as `polaris serve` would (config checked against the model and
// completed, warm-up), runs the checks of runtime/model_check.h on every
// version, compares ONNX models with OpenCV's engine when it can run them,
// times each case, and exits 1 when any check fails (2 for bad arguments).
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/logging.h"
#include "core/byte_size.h"
#include "runtime/model_check.h"
#include "runtime/model_config.h"
#include "runtime/model_loader.h"
#include "runtime/model_repository.h"
#include "runtime/reshape.h"

namespace polaris::cli {
namespace {

namespace fs = std::filesystem;

struct ValidateArgs {
  std::string path, config, backend, compare = "auto";
  std::vector<std::string> providers;
  CheckOptions checks{.timing_runs = 10};
  bool json = false;
};

// One model version to check, as the repository scan found it.
struct Target {
  std::string name{};
  int64_t version = 0;
  std::string path{}, model_dir{};
  bool has_config = false;
  inference::ModelConfig config{};
  Status broken{};  // the repository's reason it cannot be served
};

struct VersionReport {
  Target target{};
  std::string backend{}, provider{};
  CheckReport checks{};
};

Result<Target> file_target(const ValidateArgs& args) {
  const fs::path file = fs::absolute(args.path);
  Target t{.name = file.stem().string(), .path = file.string(), .model_dir = file.parent_path().string()};
  // <model>/<version>/model.onnx: the model folder's name and its config.
  const fs::path version_dir = file.parent_path();
  if (parse_version_folder(version_dir.filename().string())) {
    t.name = version_dir.parent_path().filename().string();
    t.model_dir = version_dir.parent_path().string();
    t.version = *parse_version_folder(version_dir.filename().string());
  }
  std::string config_file = args.config;
  if (config_file.empty())
    for (const fs::path& dir : {file.parent_path(), fs::path(t.model_dir)})
      if (fs::exists(dir / "config.pbtxt")) {
        config_file = (dir / "config.pbtxt").string();
        break;
      }
  if (!config_file.empty()) {
    POLARIS_ASSIGN_OR_RETURN(t.config, read_model_config(config_file));
    t.has_config = true;
  }
  return t;
}

std::vector<Target> targets_of(const RepositoryModel& m) {
  std::vector<Target> out;
  Target base{.name = m.name, .model_dir = m.dir, .has_config = m.has_config, .config = m.config, .broken = m.status};
  if (!m.status.ok() || m.versions.empty()) {
    if (base.broken.ok()) base.broken = NotFound("no version folder with a model file");
    out.push_back(base);
    return out;
  }
  for (const ModelVersionFile& v : m.versions) {
    Target t = base;
    t.version = v.version;
    t.path = v.path;
    out.push_back(std::move(t));
  }
  return out;
}

// A file, a model folder (config.pbtxt or version folders inside) or a
// repository of model folders.
Result<std::vector<Target>> find_targets(const ValidateArgs& args) {
  std::error_code ec;
  if (fs::is_regular_file(args.path, ec)) {
    POLARIS_ASSIGN_OR_RETURN(Target t, file_target(args));
    return std::vector<Target>{std::move(t)};
  }
  if (!fs::is_directory(args.path, ec)) return NotFound("'" + args.path + "' is neither a model file nor a folder");
  if (!args.config.empty()) return InvalidArgument("--config applies to a model file, not to a folder");
  const fs::path dir = fs::absolute(args.path).lexically_normal();
  const fs::path folder = dir.filename().empty() ? dir.parent_path() : dir;
  bool model_folder = fs::exists(folder / "config.pbtxt");
  for (const auto& entry : fs::directory_iterator(folder, ec))
    model_folder |= entry.is_directory() && parse_version_folder(entry.path().filename().string()).has_value();
  std::vector<Target> targets;
  if (model_folder) {
    POLARIS_ASSIGN_OR_RETURN(std::optional<RepositoryModel> m,
                             scan_repository_model(folder.parent_path().string(), folder.filename().string()));
    if (m) targets = targets_of(*m);
  } else {
    POLARIS_ASSIGN_OR_RETURN(std::vector<RepositoryModel> models, scan_repository(folder.string()));
    for (const RepositoryModel& m : models)
      for (Target& t : targets_of(m)) targets.push_back(std::move(t));
  }
  if (targets.empty()) return NotFound("no model found in '" + args.path + "'");
  return targets;
}

// OpenCV's engine on the same ONNX file, when the module is there and can
// load it; otherwise the reason, as a skipped check.
std::unique_ptr<Model> load_reference(BackendRegistry& registry, const Target& t, const std::string& backend,
                                      CheckReport& report) {
  if (backend != "onnxruntime") return nullptr;
  auto opencv = registry.get("opencv");
  if (!opencv.ok()) {
    report.add("agrees with opencv", CheckOutcome::kSkipped, opencv.status().message());
    return nullptr;
  }
  LoadOptions options;
  options.model_name = t.name;
  options.providers = {"cpu"};
  auto model = (*opencv)->load(t.path, options);
  if (!model.ok()) {
    report.add("agrees with opencv", CheckOutcome::kSkipped, "opencv cannot load it: " + model.status().message());
    return nullptr;
  }
  return apply_reshapes(std::move(*model), t.config);
}

VersionReport check_target(BackendRegistry& registry, const Target& t, const ValidateArgs& args) {
  VersionReport r{.target = t};
  if (!t.broken.ok()) {
    r.checks.add("repository", CheckOutcome::kFailed, t.broken.message());
    return r;
  }
  inference::ModelConfig config = t.config;
  if (!args.backend.empty()) config.set_backend(args.backend);
  auto backend = backend_for_model(registry, t.path, config);
  if (!backend.ok()) {
    r.checks.add("load", CheckOutcome::kFailed, backend.status().message());
    return r;
  }
  r.backend = std::string((*backend)->name());
  InstanceRequest request;
  request.model_name = t.name;
  request.path = t.path;
  request.model_dir = t.model_dir;
  request.config = config;
  request.has_config = t.has_config;
  request.options.model_name = t.name;
  request.options.providers = args.providers;
  auto instance = load_model_instance(registry, request);
  if (!instance.ok()) {
    r.checks.add("load", CheckOutcome::kFailed, instance.status().message());
    return r;
  }
  r.provider = instance->metadata.provider;
  r.checks.add("load", CheckOutcome::kPassed,
               fmt::format("{} ms, {} measured, warm-up {}", instance->load_duration.count(),
                           format_byte_size(instance->measured_bytes), instance->metadata.extra_info["warmup"]));
  r.checks.add("config", CheckOutcome::kPassed,
               fmt::format("{}; max_batch_size {}", t.has_config ? "agrees with the model" : "none, completed from the model",
                           instance->config.max_batch_size()));
  std::unique_ptr<Model> reference =
      args.compare == "none" ? nullptr : load_reference(registry, t, r.backend, r.checks);
  CheckReport run = check_model(*instance->model, instance->config, args.checks, reference.get(), "opencv");
  for (CheckResult& c : run.results) r.checks.results.push_back(std::move(c));
  return r;
}

std::string title(const VersionReport& r) {
  std::string text = r.target.name;
  if (r.target.version > 0) text += fmt::format(" version {}", r.target.version);
  if (!r.target.path.empty()) text += ": " + r.target.path;
  if (!r.backend.empty()) text += " (" + r.backend + (r.provider.empty() ? "" : ", " + r.provider) + ")";
  return text;
}

void print_text(const VersionReport& r) {
  std::size_t width = 0;
  for (const CheckResult& c : r.checks.results) width = std::max(width, c.name.size());
  std::cout << title(r) << "\n";
  for (const CheckResult& c : r.checks.results)
    std::cout << fmt::format("  {:<5} {:<{}}  {}\n", to_string(c.outcome), c.name, width, c.detail);
}

nlohmann::json to_json(const VersionReport& r) {
  nlohmann::json checks = nlohmann::json::array();
  for (const CheckResult& c : r.checks.results) {
    nlohmann::json j = {{"name", c.name}, {"outcome", to_string(c.outcome)}, {"detail", c.detail}};
    if (c.median_ms >= 0) j["median_ms"] = c.median_ms;
    checks.push_back(j);
  }
  return {{"name", r.target.name}, {"version", r.target.version}, {"path", r.target.path}, {"backend", r.backend},
          {"provider", r.provider}, {"passed", r.checks.passed()}, {"checks", checks}};
}

int run_validate(const ValidateArgs& args) {
  auto targets = find_targets(args);
  if (!targets.ok()) {
    std::cerr << "error: " << targets.status().message() << "\n";
    return 2;
  }
  BackendRegistry registry{BackendConfig{}};
  nlohmann::json all = nlohmann::json::array();
  std::vector<std::string> failed;
  for (const Target& t : *targets) {
    VersionReport r = check_target(registry, t, args);
    if (!r.checks.passed()) failed.push_back(t.version > 0 ? fmt::format("{} version {}", t.name, t.version) : t.name);
    if (args.json)
      all.push_back(to_json(r));
    else
      print_text(r);
  }
  if (args.json) {
    std::cout << nlohmann::json{{"passed", failed.empty()}, {"models", all}}.dump(2) << "\n";
  } else if (failed.empty()) {
    std::cout << fmt::format("validate: {} model version{} checked, all passed\n", targets->size(),
                             targets->size() == 1 ? "" : "s");
  } else {
    std::string names;
    for (const auto& f : failed) names += (names.empty() ? "" : ", ") + f;
    std::cout << fmt::format("validate: {} of {} model versions FAILED: {}\n", failed.size(), targets->size(), names);
  }
  return failed.empty() ? 0 : 1;
}

}  // namespace

void add_validate_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ValidateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "validate", "Check a model, a model folder or a repository: load, config, generated inputs, outputs, engines, timing");
  cmd->add_option("path", args->path, "Model file, model folder or model repository")->required();
  cmd->add_option("--config", args->config, "config.pbtxt for a model file (default: beside it or in its model folder)");
  cmd->add_option("--backend", args->backend, "Force a backend (onnxruntime, pytorch, opencv)");
  cmd->add_option("--provider", args->providers, "Provider/device, in order of preference (repeatable)");
  cmd->add_option("--compare", args->compare, "auto: compare ONNX models with OpenCV's engine when it can run them; none")
      ->check(CLI::IsMember({"auto", "none"}))
      ->capture_default_str();
  cmd->add_option("--timing-runs", args->checks.timing_runs, "Timed runs per case (0: no timing)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  cmd->add_option("--large-batch", args->checks.large_batch, "Batch of the large case (capped by max_batch_size)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  cmd->add_option("--large-dim", args->checks.large_dim, "Other dynamic dims in the large case")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--tolerance", args->checks.tolerance, "Engines agree when max|a-b| <= tolerance * max|b| (per output)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args, &exit_code] {
    init_logging(LogLevel::kWarning);  // load errors are in the report; warnings (fallbacks) on stderr
    exit_code = run_validate(*args);
  });
}

}  // namespace polaris::cli
