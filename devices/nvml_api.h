// The few NVML (NVIDIA Management Library) types and entry points the GPU
// telemetry uses, declared by hand: no Debian 12 main package ships nvml.h
// (NVIDIA's headers are in non-free / the CUDA toolkit), and the library
// itself, libnvidia-ml.so.1, comes with the driver and is dlopen'ed at run
// time (nvml_telemetry.cc), never linked.
//
// Types, constants and signatures as documented in the NVML API reference,
// https://docs.nvidia.com/deploy/nvml-api/ ("Initialization and Cleanup",
// "Device Queries", "Device Structs"). The _v2 entry points exist since
// NVML 5.319 (2013); every driver Polaris can meet has them.
#pragma once

namespace polaris::devices::nvml {

using Return = int;                 // nvmlReturn_t
constexpr Return kSuccess = 0;      // NVML_SUCCESS
using Device = struct nvmlDevice_st*;  // nvmlDevice_t: an opaque handle

// NVML_DEVICE_UUID_V2_BUFFER_SIZE: room for "GPU-xxxxxxxx-xxxx-...", NUL included.
constexpr unsigned kUuidBufferSize = 96;

struct Utilization {  // nvmlUtilization_t: percent of the last sample period
  unsigned int gpu;
  unsigned int memory;
};

struct Memory {  // nvmlMemory_t (v1): bytes
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

using InitV2 = Return (*)();                                              // nvmlInit_v2
using ErrorString = const char* (*)(Return);                              // nvmlErrorString
using DeviceGetCountV2 = Return (*)(unsigned int* count);                 // nvmlDeviceGetCount_v2
using DeviceGetHandleByIndexV2 = Return (*)(unsigned int index, Device*);  // nvmlDeviceGetHandleByIndex_v2
using DeviceGetUuid = Return (*)(Device, char* uuid, unsigned int length);  // nvmlDeviceGetUUID
using DeviceGetUtilizationRates = Return (*)(Device, Utilization*);       // nvmlDeviceGetUtilizationRates
using DeviceGetMemoryInfo = Return (*)(Device, Memory*);                  // nvmlDeviceGetMemoryInfo
using DeviceGetPowerUsage = Return (*)(Device, unsigned int* milliwatts);  // nvmlDeviceGetPowerUsage
using DeviceGetEnforcedPowerLimit = Return (*)(Device, unsigned int* milliwatts);  // nvmlDeviceGetEnforcedPowerLimit
// Millijoules since the driver was last loaded (Volta and newer).
using DeviceGetTotalEnergyConsumption = Return (*)(Device, unsigned long long* millijoules);

}  // namespace polaris::devices::nvml
