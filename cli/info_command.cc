// `polaris info MODEL [--json]`: load a model and print its metadata.
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/metadata_table.h"
#include "cli/model_loading.h"

namespace polaris::cli {
namespace {

struct InfoArgs {
  ModelLoadArgs load;
  bool json = false;
};

int run_info(const InfoArgs& args) {
  int exit_code = 0;
  auto loaded = load_model_or_report(args.load, exit_code);
  if (!loaded) return exit_code;
  const ModelMetadata& metadata = loaded->model->metadata();
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
  add_model_load_options(cmd, args->load);
  cmd->add_flag("--json", args->json, "Print JSON (the seed's field names)");
  cmd->callback([args, &exit_code] { exit_code = run_info(*args); });
}

}  // namespace polaris::cli
