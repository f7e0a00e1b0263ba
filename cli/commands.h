// The `polaris` subcommands. Each add_*_command registers itself on the app
// and runs through the callback it installs; `exit_code` receives the result.
#pragma once

#include <CLI/CLI.hpp>

namespace polaris::cli {

void add_info_command(CLI::App& app, int& exit_code);
void add_predict_command(CLI::App& app, int& exit_code);
void add_list_command(CLI::App& app, int& exit_code);
void add_serve_command(CLI::App& app, int& exit_code);
void add_devices_command(CLI::App& app, int& exit_code);
void add_pull_command(CLI::App& app, int& exit_code);
void add_validate_command(CLI::App& app, int& exit_code);
void add_quantize_command(CLI::App& app, int& exit_code);
void add_prune_command(CLI::App& app, int& exit_code);
void print_version();

}  // namespace polaris::cli
