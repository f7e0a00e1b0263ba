// polaris: the command-line entry point (info, predict, serve, list, devices, ...).
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/predict_folder.h"

int main(int argc, char** argv) {
  polaris::cli::limit_image_pixels_for_input_dir(argc, argv);
  CLI::App app{"Polaris: a multi-model inference server for budget GPUs and CPUs"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "Print the Polaris version and the engine versions it was built with");
  int exit_code = 0;
  polaris::cli::add_info_command(app, exit_code);
  polaris::cli::add_predict_command(app, exit_code);
  polaris::cli::add_list_command(app, exit_code);
  polaris::cli::add_serve_command(app, exit_code);
  polaris::cli::add_devices_command(app, exit_code);
  polaris::cli::add_pull_command(app, exit_code);
  polaris::cli::add_validate_command(app, exit_code);
  polaris::cli::add_quantize_command(app, exit_code);
  polaris::cli::add_prune_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    polaris::cli::print_version();
    return 0;
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return 0;
  }
  return exit_code;
}
