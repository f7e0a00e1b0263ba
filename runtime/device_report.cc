#include "runtime/device_report.h"

#include "core/build_info.h"
#include "devices/discovery.h"
#include "devices/dynamic_library.h"

namespace polaris {
namespace {

devices::EngineFacts engine_facts(BackendRegistry& registry, bool cuda_present) {
  devices::EngineFacts facts;
  facts.onnxruntime = *build_info::kOnnxRuntimeVersion != '\0';
  facts.torch = *build_info::kTorchVersion != '\0';
  facts.opencv = *build_info::kOpenCvVersion != '\0';
  if (facts.onnxruntime) {
    auto ort = registry.get("onnxruntime");
    if (ort.ok()) {
      facts.ort_providers = (*ort)->available_providers();
      facts.ort_library_dir = devices::loaded_library_dir("libonnxruntime.so.1");
    } else {
      facts.ort_error = ort.status().message();
    }
  }
  // libtorch is large and only adds providers beside a CUDA device.
  if (facts.torch && cuda_present) {
    auto torch = registry.get("torch");
    if (torch.ok())
      facts.torch_providers = (*torch)->available_providers();
    else
      facts.torch_error = torch.status().message();
  }
  return facts;
}

}  // namespace

devices::DeviceReport discover_devices_and_providers(BackendRegistry& registry) {
  // Probe first: whether libtorch must be asked depends on a CUDA device.
  devices::DeviceReport report = devices::discover_devices(devices::EngineFacts{});
  const auto* cuda = report.source("cuda");
  devices::assign_providers(report, engine_facts(registry, cuda != nullptr && cuda->available));
  return report;
}

}  // namespace polaris
