// What device discovery reports: every compute device this machine has,
// grouped by the way it was found (CPU, OpenCL, Vulkan, CUDA, AMD sysfs), and
// which Polaris providers can run models on it.
//
// Plain data, no engine and no driver header: the probes fill it, the CLI
// prints it, tests compare it with what the system itself says.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace polaris::devices {

// One Polaris provider that can (or, with `usable` false, could with the
// missing piece named in `note`) run models on a device.
struct ProviderUse {
  std::string engine;    // "onnxruntime", "torch", "opencv"
  std::string provider;  // the name LoadOptions::providers and config.pbtxt take: "cpu", "webgpu", "opencl"...
  bool usable = true;
  std::string note;      // why not usable, or what must be set for it (env vars)
};

struct Device {
  std::string id;    // stable within a run: "cpu", "opencl:0.1", "vulkan:0", "cuda:0", "amd:card0"
  std::string name;  // what the driver calls it
  std::string type;  // "cpu", "gpu", "integrated-gpu", "accelerator", "virtual-gpu", "other"
  uint64_t memory_bytes = 0;  // device memory (host RAM for CPU devices); 0: unknown
  // Driver facts worth showing: vendor, driver version, API version, compute units...
  std::map<std::string, std::string> properties;
  // Capabilities that decide providers: ISA flags (CPU), extensions (OpenCL).
  std::vector<std::string> features;
  std::vector<ProviderUse> providers;
};

// One way of finding devices. `available` false means the driver stack is
// missing or found nothing; `reason` then says which piece and what to check.
struct DeviceSource {
  std::string name;  // "cpu", "opencl", "vulkan", "cuda", "amd"
  bool available = false;
  std::string reason;
  std::vector<Device> devices;
};

struct DeviceReport {
  std::vector<DeviceSource> sources;  // always all five, in the order above

  const DeviceSource* source(const std::string& name) const;
};

nlohmann::json to_json(const DeviceReport& report);

}  // namespace polaris::devices
