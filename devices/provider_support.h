// Which Polaris providers can run models on each discovered device.
//
// The answer combines the device's facts (type, OpenCL extensions) with the
// engines of this build: an engine module that is not built offers nothing,
// and ONNX Runtime's own provider list says whether its library has WebGPU
// or CUDA (the npm build has WebGPU; CUDA needs the provider library beside
// libonnxruntime, which only the onnxruntime_gpu build ships).
#pragma once

#include <string>
#include <vector>

#include "devices/device.h"

namespace polaris::devices {

struct EngineFacts {
  bool onnxruntime = false;  // modules built into this Polaris
  bool torch = false;
  bool opencv = false;
  // ORT's provider names ("WebGpuExecutionProvider", ...) as the loaded
  // module reports them; ort_error says why they could not be read.
  std::vector<std::string> ort_providers;
  std::string ort_error;
  std::string ort_library_dir;  // where provider libraries must be
  // The torch module's devices ("cuda:0", "cpu"); asked only when a CUDA
  // device exists, since loading libtorch takes a second.
  std::vector<std::string> torch_providers;
  std::string torch_error;
};

// Fills Device::providers for every device in `report`.
void assign_providers(DeviceReport& report, const EngineFacts& facts);

}  // namespace polaris::devices
