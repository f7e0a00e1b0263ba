#include "devices/discovery.h"

#include "devices/probes.h"

namespace polaris::devices {

DeviceReport discover_devices(const EngineFacts& facts) {
  DeviceReport report;
  report.sources = {probe_cpu(), probe_opencl(), probe_vulkan(), probe_cuda(), probe_amd()};
  assign_providers(report, facts);
  return report;
}

}  // namespace polaris::devices
