// The host CPU as a device: /proc/cpuinfo for the model name and cores,
// /proc/meminfo for memory, CPUID for the ISA features.
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "devices/cpu_features.h"
#include "devices/probes.h"

namespace polaris::devices {
namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

struct CpuInfo {
  std::string model_name;
  int physical_cores = 0;  // distinct (physical id, core id) pairs; 0 when not listed
};

CpuInfo read_cpuinfo() {
  CpuInfo info;
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, physical = "0";
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (key == "model name" && info.model_name.empty()) info.model_name = value;
    if (key == "physical id") physical = value;
    if (key == "core id") cores.emplace(physical, value);
  }
  info.physical_cores = static_cast<int>(cores.size());
  return info;
}

uint64_t mem_total_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  while (in >> key) {
    if (key == "MemTotal:") {
      in >> kib;
      return kib * 1024;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

}  // namespace

DeviceSource probe_cpu() {
  DeviceSource source{"cpu", true, "", {}};
  const CpuInfo info = read_cpuinfo();
  Device cpu;
  cpu.id = "cpu";
  cpu.name = info.model_name.empty() ? "unknown CPU" : info.model_name;
  cpu.type = "cpu";
  cpu.memory_bytes = mem_total_bytes();
  const long logical = sysconf(_SC_NPROCESSORS_ONLN);
  cpu.properties["logical_cpus"] = std::to_string(logical > 0 ? logical : 0);
  if (info.physical_cores > 0) cpu.properties["cores"] = std::to_string(info.physical_cores);
  cpu.features = cpu_isa_features();
  source.devices.push_back(std::move(cpu));
  return source;
}

}  // namespace polaris::devices
