// What `info` and `predict` share: the options that choose how a model is
// loaded, and loading it through the backend registry.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "backends/registry.h"

namespace polaris::cli {

struct ModelLoadArgs {
  std::string model;
  std::vector<std::string> providers;
  std::string optimization = "all";
  std::string backend;
  int threads = 0;
};

// Adds the positional MODEL and --provider, --optimization, --backend, --threads.
void add_model_load_options(CLI::App* cmd, ModelLoadArgs& args);

// The registry owns the engine modules, so it lives as long as the model.
struct LoadedModel {
  std::unique_ptr<BackendRegistry> registry;
  std::unique_ptr<Model> model;
};

// Loads the model; on failure prints "error: ..." and returns the exit code
// in `exit_code` (2 for bad options, 1 for a failed load).
std::optional<LoadedModel> load_model_or_report(const ModelLoadArgs& args, int& exit_code);

}  // namespace polaris::cli
