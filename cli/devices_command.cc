// `polaris devices [--json]`: the compute devices this machine has (CPU,
// OpenCL, Vulkan, CUDA, AMD GPUs) and which Polaris providers can use each.
//
// Drivers are probed with dlopen (devices/), so a missing one is listed as
// "not available" with the reason. The ONNX Runtime module is loaded to ask
// which providers its library has (WebGPU, CUDA); libtorch only when a CUDA
// device exists, since it is the one engine that takes a second to load.
#include <dlfcn.h>
#include <link.h>

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/registry.h"
#include "cli/commands.h"
#include "cli/logging.h"
#include "core/build_info.h"
#include "core/byte_size.h"
#include "runtime/device_report.h"

namespace polaris::cli {
namespace {

using devices::DeviceReport;

std::string usable_providers(const devices::Device& d) {
  std::string out;
  for (const auto& p : d.providers)
    if (p.usable) out += (out.empty() ? "" : " ") + p.engine + ":" + p.provider;
  return out.empty() ? "-" : out;
}

std::string describe(const devices::Device& d) {
  if (d.id != "cpu") return d.name;
  std::string s = d.name + " (" + d.properties.at("logical_cpus") + " CPUs";
  if (auto it = d.properties.find("cores"); it != d.properties.end()) s += ", " + it->second + " cores";
  return s + ")";
}

void print_table(const DeviceReport& report) {
  std::cout << fmt::format("{:<12} {:<15} {:<44} {:>10}  {}\n", "DEVICE", "TYPE", "NAME", "MEMORY", "PROVIDERS");
  for (const auto& source : report.sources)
    for (const auto& d : source.devices)
      std::cout << fmt::format("{:<12} {:<15} {:<44} {:>10}  {}\n", d.id, d.type, describe(d),
                               d.memory_bytes ? format_byte_size(d.memory_bytes) : "-", usable_providers(d));
  if (const auto* cpu = report.source("cpu"); cpu != nullptr && !cpu->devices.empty()) {
    std::string isa;
    for (const auto& f : cpu->devices[0].features) isa += " " + f;
    std::cout << "\ncpu ISA:" << (isa.empty() ? " (none of the tracked features)" : isa) << "\n";
  }
  bool header = false;
  for (const auto& source : report.sources) {
    if (source.available) continue;
    if (!header) std::cout << "\nnot available:\n";
    header = true;
    std::cout << fmt::format("  {:<8} {}\n", source.name, source.reason);
  }
  header = false;
  for (const auto& source : report.sources)
    for (const auto& d : source.devices)
      for (const auto& p : d.providers) {
        if (p.note.empty()) continue;
        if (!header) std::cout << "\nnotes:\n";
        header = true;
        std::cout << fmt::format("  {} {}:{}: {}{}\n", d.id, p.engine, p.provider, p.usable ? "" : "not usable: ",
                                 p.note);
      }
}

int run_devices(bool json) {
  BackendConfig config;
  config.threads.intra_op = 1;  // only asked for provider lists, never runs a model
  BackendRegistry registry(config);
  const DeviceReport report = discover_devices_and_providers(registry);
  if (json)
    std::cout << devices::to_json(report).dump(2) << "\n";
  else
    print_table(report);
  return 0;
}

}  // namespace

void add_devices_command(CLI::App& app, int& exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("devices", "List CPU, OpenCL, Vulkan, CUDA and AMD devices and the providers that can use them");
  cmd->add_flag("--json", *json, "Print JSON instead of a table");
  cmd->callback([json, &exit_code] {
    init_logging(LogLevel::kWarning);
    exit_code = run_devices(*json);
  });
}

}  // namespace polaris::cli
