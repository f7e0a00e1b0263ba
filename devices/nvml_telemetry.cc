// NVIDIA GPUs' telemetry through NVML, the library nvidia-smi uses. It comes
// with the driver, so it is dlopen'ed (never linked): a machine without an
// NVIDIA driver has no libnvidia-ml.so.1 and simply has no NVIDIA GPUs here.
//
// NVML is initialised once per process and never shut down (as the other
// dlopen'ed drivers, dynamic_library.h): each sample is a handful of
// queries on handles found at initialisation. NVML is thread-safe.
#include <utility>

#include "devices/dynamic_library.h"
#include "devices/gpu_telemetry.h"
#include "devices/nvml_api.h"

namespace polaris::devices {
namespace {

struct Nvml {
  nvml::DeviceGetUtilizationRates utilization = nullptr;
  nvml::DeviceGetMemoryInfo memory = nullptr;
  nvml::DeviceGetPowerUsage power = nullptr;
  nvml::DeviceGetEnforcedPowerLimit power_limit = nullptr;
  nvml::DeviceGetTotalEnergyConsumption energy = nullptr;
  std::vector<std::pair<nvml::Device, std::string>> devices;  // handle, UUID

  Nvml() {
    static const DynamicLibrary lib("libnvidia-ml.so.1");
    if (!lib.loaded()) return;
    const auto init = lib.sym<nvml::InitV2>("nvmlInit_v2");
    const auto count = lib.sym<nvml::DeviceGetCountV2>("nvmlDeviceGetCount_v2");
    const auto handle = lib.sym<nvml::DeviceGetHandleByIndexV2>("nvmlDeviceGetHandleByIndex_v2");
    const auto uuid = lib.sym<nvml::DeviceGetUuid>("nvmlDeviceGetUUID");
    if (!init || !count || !handle || !uuid || init() != nvml::kSuccess) return;
    // Each query is optional: an older driver lacks some (energy is Volta+).
    utilization = lib.sym<nvml::DeviceGetUtilizationRates>("nvmlDeviceGetUtilizationRates");
    memory = lib.sym<nvml::DeviceGetMemoryInfo>("nvmlDeviceGetMemoryInfo");
    power = lib.sym<nvml::DeviceGetPowerUsage>("nvmlDeviceGetPowerUsage");
    power_limit = lib.sym<nvml::DeviceGetEnforcedPowerLimit>("nvmlDeviceGetEnforcedPowerLimit");
    energy = lib.sym<nvml::DeviceGetTotalEnergyConsumption>("nvmlDeviceGetTotalEnergyConsumption");
    unsigned int n = 0;
    if (count(&n) != nvml::kSuccess) return;
    for (unsigned int i = 0; i < n; ++i) {
      nvml::Device device = nullptr;
      char text[nvml::kUuidBufferSize] = {};
      // A GPU NVML cannot open (lost, or not permitted in this container) is
      // left out; the others are still reported.
      if (handle(i, &device) != nvml::kSuccess || uuid(device, text, sizeof text) != nvml::kSuccess) continue;
      devices.emplace_back(device, text);
    }
  }
};

}  // namespace

std::vector<GpuSample> sample_nvml() {
  static const Nvml nvml_state;
  const Nvml& n = nvml_state;
  std::vector<GpuSample> out;
  for (size_t i = 0; i < n.devices.size(); ++i) {
    const auto& [device, uuid] = n.devices[i];
    GpuSample s;
    s.uuid = uuid;
    s.source = "nvml";
    s.name = "nvml:" + std::to_string(i);
    if (nvml::Utilization u{}; n.utilization && n.utilization(device, &u) == nvml::kSuccess)
      s.utilization = static_cast<double>(u.gpu) / 100.0;
    if (nvml::Memory m{}; n.memory && n.memory(device, &m) == nvml::kSuccess) {
      s.memory_total_bytes = m.total;
      s.memory_used_bytes = m.used;
    }
    if (unsigned int mw = 0; n.power && n.power(device, &mw) == nvml::kSuccess) s.power_watts = mw / 1e3;
    if (unsigned int mw = 0; n.power_limit && n.power_limit(device, &mw) == nvml::kSuccess)
      s.power_limit_watts = mw / 1e3;
    if (unsigned long long mj = 0; n.energy && n.energy(device, &mj) == nvml::kSuccess)
      s.energy_joules = static_cast<double>(mj) / 1e3;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace polaris::devices
