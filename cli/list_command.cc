// `polaris list --model-repository DIR`: every model and version in a
// repository with its state, provider, resident memory and last use.
//
// Without --load it lists what a lazy server would (nothing loaded: broken
// configs and missing files already show their reason); with --load every
// model is loaded once, as `--model-control-mode none` does at start, so the
// table shows providers, measured memory and load errors.
#include <chrono>
#include <iostream>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/logging.h"
#include "core/byte_size.h"
#include "runtime/model_manager.h"

namespace polaris::cli {
namespace {

struct ListArgs {
  std::string repository;
  bool load = false;
  bool json = false;
  std::string memory_limit;
  int threads = 1;
};

std::string last_use(const ModelVersionStatus& row) {
  if (!row.last_used) return "-";
  return fmt::format("{:%Y-%m-%d %H:%M:%S}", fmt::localtime(std::chrono::system_clock::to_time_t(*row.last_used)));
}

nlohmann::json to_json(const ModelVersionStatus& row) {
  nlohmann::json j{{"name", row.name},
                   {"version", row.version == 0 ? "" : std::to_string(row.version)},
                   {"state", std::string(to_string(row.state))},
                   {"reason", row.reason},
                   {"path", row.path},
                   {"provider", row.provider},
                   {"device", row.device},
                   {"resident_bytes", row.resident_bytes},
                   {"pinned", row.pinned},
                   {"load_ms", row.last_load_duration.count()}};
  if (row.last_used)
    j["last_used_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(row.last_used->time_since_epoch()).count();
  return j;
}

void print_table(const std::vector<ModelVersionStatus>& rows) {
  std::cout << fmt::format("{:<28} {:>7}  {:<11} {:<22} {:>10}  {:<19}  {}\n", "MODEL", "VERSION", "STATE", "PROVIDER",
                           "RESIDENT", "LAST USED", "REASON");
  for (const auto& row : rows)
    std::cout << fmt::format("{:<28} {:>7}  {:<11} {:<22} {:>10}  {:<19}  {}\n", row.name,
                             row.version == 0 ? "-" : std::to_string(row.version), to_string(row.state),
                             row.provider.empty() ? "-" : row.provider,
                             row.resident_bytes ? format_byte_size(row.resident_bytes) : "-", last_use(row),
                             row.reason);
}

int run_list(const ListArgs& args) {
  ManagerOptions options;
  options.repository = args.repository;
  options.mode = args.load ? ControlMode::kNone : ControlMode::kExplicit;
  if (!args.memory_limit.empty()) {
    auto bytes = parse_byte_size(args.memory_limit);
    if (!bytes.ok()) {
      std::cerr << "error: --memory-limit: " << bytes.status().message() << "\n";
      return 2;
    }
    options.memory_limits["cpu"] = *bytes;
  }
  BackendConfig backends;
  backends.threads.intra_op = args.threads;
  BackendRegistry registry(backends);
  auto manager = ModelManager::create(std::move(options), registry);
  if (!manager.ok()) {
    std::cerr << "error: " << manager.status().message() << "\n";
    return 1;
  }
  const auto rows = (*manager)->index();
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows) out.push_back(to_json(row));
    std::cout << out.dump(2) << "\n";
  } else {
    print_table(rows);
  }
  return 0;
}

}  // namespace

void add_list_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ListArgs>();
  CLI::App* cmd = app.add_subcommand("list", "List the models of a Triton-layout model repository");
  cmd->add_option("--model-repository", args->repository, "The repository folder")->required();
  cmd->add_flag("--load", args->load, "Load every model once to show providers, memory and load errors");
  cmd->add_flag("--json", args->json, "Print JSON instead of a table");
  cmd->add_option("--memory-limit", args->memory_limit, "CPU memory budget for --load, e.g. 6GiB");
  cmd->add_option("--threads", args->threads, "Engine threads for --load")->check(CLI::Range(1, 1024));
  cmd->callback([args, &exit_code] {
    init_logging(LogLevel::kWarning);  // load errors show in the table's REASON
    exit_code = run_list(*args);
  });
}

}  // namespace polaris::cli
