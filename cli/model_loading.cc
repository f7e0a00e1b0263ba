#include "cli/model_loading.h"

#include <iostream>

namespace polaris::cli {

void add_model_load_options(CLI::App* cmd, ModelLoadArgs& args) {
  cmd->add_option("model", args.model, "Model file (.onnx, .pt, .torchscript)")->required();
  cmd->add_option("--provider", args.providers, "Provider/device, in order of preference (repeatable)");
  cmd->add_option("--optimization", args.optimization, "0|1|2 or disable|basic|extended|all")->capture_default_str();
  cmd->add_option("--backend", args.backend, "Force a backend (onnxruntime, pytorch, opencv)");
  cmd->add_option("--threads", args.threads, "Engine intra-op threads (0: one per core)");
}

std::optional<LoadedModel> load_model_or_report(const ModelLoadArgs& args, int& exit_code) {
  auto level = parse_optimization_level(args.optimization);
  if (!level) {
    std::cerr << "error: --optimization must be 0, 1, 2, disable, basic, extended or all\n";
    exit_code = 2;
    return std::nullopt;
  }
  BackendConfig config;
  config.threads.intra_op = args.threads;
  LoadedModel loaded{std::make_unique<BackendRegistry>(config), nullptr};
  LoadOptions options;
  options.providers = args.providers;
  options.optimization_level = *level;
  auto model = loaded.registry->load(args.model, options, args.backend);
  if (!model.ok()) {
    std::cerr << "error: " << model.status().to_string() << "\n";
    exit_code = 1;
    return std::nullopt;
  }
  loaded.model = std::move(model).value();
  return loaded;
}

}  // namespace polaris::cli
