// Device discovery: every probe, then the providers each device offers.
// What `polaris devices` prints; cheap enough to run at start-up (tens of
// milliseconds, most of it the OpenCL and Vulkan drivers initialising).
#pragma once

#include "devices/device.h"
#include "devices/provider_support.h"

namespace polaris::devices {

DeviceReport discover_devices(const EngineFacts& facts);

}  // namespace polaris::devices
