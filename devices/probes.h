// The probes behind device discovery, one per driver stack. Each returns a
// DeviceSource and never throws or crashes on a missing driver: drivers are
// loaded with dlopen at run time, so Polaris links none of them, and a
// missing library or ICD becomes `available = false` with the reason.
// Providers are filled later (provider_support.h), not by the probes.
#pragma once

#include <string>

#include "devices/device.h"

namespace polaris::devices {

// The host CPU: model name, logical CPUs and cores, memory, and the ISA
// features that matter for inference kernels (cpu_features.h).
DeviceSource probe_cpu();

// OpenCL platforms and devices through libOpenCL.so.1 (the ICD loader:
// OCL_ICD_VENDORS and /etc/OpenCL/vendors decide which drivers it finds).
DeviceSource probe_opencl();

// Vulkan physical devices through libvulkan.so.1 (VK_DRIVER_FILES /
// VK_ICD_FILENAMES and /usr/share/vulkan/icd.d decide which drivers).
DeviceSource probe_vulkan();

// NVIDIA GPUs through the CUDA driver API in libcuda.so.1.
DeviceSource probe_cuda();

// AMD GPUs from sysfs: the KFD topology (ROCm's view, with the gfx target)
// and DRM cards whose PCI vendor is 0x1002. `sysfs_root` is "/sys" except in
// tests that read a recorded tree.
DeviceSource probe_amd(const std::string& sysfs_root = "/sys");

}  // namespace polaris::devices
