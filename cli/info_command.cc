// `polaris info MODEL [--json]`: load a model and print its metadata.
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

#include "backends/registry.h"
#include "cli/commands.h"
#include "cli/metadata_table.h"

namespace polaris::cli {
namespace {

struct InfoArgs {
  std::string model;
  bool json = false;
  std::vector<std::string> providers;
  std::string optimization = "all";
  std::string backend;
  int threads = 0;
};

int run_info(const InfoArgs& args) {
  auto level = parse_optimization_level(args.optimization);
  if (!level) {
    std::cerr << "error: --optimization must be 0, 1, 2, disable, basic, extended or all\n";
    return 2;
  }
  BackendConfig config;
  config.threads.intra_op = args.threads;
  BackendRegistry registry(config);
  LoadOptions options;
  options.providers = args.providers;
  options.optimization_level = *level;
  auto model = registry.load(args.model, options, args.backend);
  if (!model.ok()) {
    std::cerr << "error: " << model.status().to_string() << "\n";
    return 1;
  }
  const ModelMetadata& metadata = (*model)->metadata();
  if (args.json)
    std::cout << to_json(metadata).dump(2) << "\n";
  else
    print_metadata_table(std::cout, metadata);
  return 0;
}

}  // namespace

void add_info_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Load a model and print its metadata");
  cmd->add_option("model", args->model, "Model file (.onnx, .pt, .torchscript)")->required();
  cmd->add_flag("--json", args->json, "Print JSON (the seed's field names)");
  cmd->add_option("--provider", args->providers, "Provider/device to use, in order of preference (repeatable)");
  cmd->add_option("--optimization", args->optimization, "0|1|2 or disable|basic|extended|all")
      ->capture_default_str();
  cmd->add_option("--backend", args->backend, "Force a backend (onnxruntime, pytorch)");
  cmd->add_option("--threads", args->threads, "Engine intra-op threads (0: one per core)");
  cmd->callback([args, &exit_code] { exit_code = run_info(*args); });
}

}  // namespace polaris::cli
