// The devices this machine has and the providers each engine can use on
// them: what `polaris devices` prints and the Python package's
// list_devices() returns. Asks the engine modules for their providers, so
// it loads ONNX Runtime (and libtorch when a CUDA device exists).
// Thread-safety: as BackendRegistry.
#pragma once

#include "backends/registry.h"
#include "devices/device.h"

namespace polaris {

devices::DeviceReport discover_devices_and_providers(BackendRegistry& registry);

}  // namespace polaris
