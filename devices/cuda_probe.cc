// NVIDIA GPUs through the CUDA driver API, loaded at run time.
//
// No Debian 12 main package ships cuda.h (nvidia-cuda-dev is in non-free),
// so the handful of driver entry points used here are declared by hand, with
// the types and constants of the CUDA driver API (cuda.h, stable since
// CUDA 3.2 for the _v2 names).
#include <utility>

#include "devices/dynamic_library.h"
#include "devices/probes.h"

namespace polaris::devices {
namespace {

using CUresult = int;
using CUdevice = int;
constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

using CuInit = CUresult (*)(unsigned int flags);
using CuDriverGetVersion = CUresult (*)(int* version);
using CuDeviceGetCount = CUresult (*)(int* count);
using CuDeviceGet = CUresult (*)(CUdevice* device, int ordinal);
using CuDeviceGetName = CUresult (*)(char* name, int len, CUdevice device);
using CuDeviceTotalMem = CUresult (*)(size_t* bytes, CUdevice device);
using CuDeviceGetAttribute = CUresult (*)(int* value, int attribute, CUdevice device);
using CuGetErrorString = CUresult (*)(CUresult error, const char** text);

}  // namespace

DeviceSource probe_cuda() {
  DeviceSource source{"cuda", false, "", {}};
  static const DynamicLibrary lib("libcuda.so.1");
  if (!lib.loaded()) {
    source.reason = "no NVIDIA driver (libcuda.so.1: " + lib.error() + ")";
    return source;
  }
  const auto init = lib.sym<CuInit>("cuInit");
  const auto driver_version = lib.sym<CuDriverGetVersion>("cuDriverGetVersion");
  const auto get_count = lib.sym<CuDeviceGetCount>("cuDeviceGetCount");
  const auto get = lib.sym<CuDeviceGet>("cuDeviceGet");
  const auto get_name = lib.sym<CuDeviceGetName>("cuDeviceGetName");
  const auto total_mem = lib.sym<CuDeviceTotalMem>("cuDeviceTotalMem_v2");
  const auto attribute = lib.sym<CuDeviceGetAttribute>("cuDeviceGetAttribute");
  const auto error_string = lib.sym<CuGetErrorString>("cuGetErrorString");
  if (!init || !get_count || !get || !get_name) {
    source.reason = "libcuda.so.1 lacks cuInit/cuDeviceGetCount/cuDeviceGet/cuDeviceGetName";
    return source;
  }
  auto describe = [&](CUresult rc) {
    const char* text = nullptr;
    if (error_string != nullptr && error_string(rc, &text) == CUDA_SUCCESS && text != nullptr)
      return std::string(text) + " (" + std::to_string(rc) + ")";
    return "CUDA error " + std::to_string(rc);
  };
  if (const CUresult rc = init(0); rc != CUDA_SUCCESS) {
    source.reason = rc == CUDA_ERROR_NO_DEVICE ? "the NVIDIA driver sees no GPU" : "cuInit failed: " + describe(rc);
    return source;
  }
  int version = 0;
  if (driver_version != nullptr) driver_version(&version);
  int count = 0;
  if (const CUresult rc = get_count(&count); rc != CUDA_SUCCESS) {
    source.reason = "cuDeviceGetCount failed: " + describe(rc);
    return source;
  }
  for (int i = 0; i < count; ++i) {
    CUdevice dev = 0;
    if (get(&dev, i) != CUDA_SUCCESS) continue;
    char name[256] = {};
    get_name(name, sizeof name - 1, dev);
    Device d;
    d.id = "cuda:" + std::to_string(i);
    d.name = name;
    d.type = "gpu";
    size_t bytes = 0;
    if (total_mem != nullptr && total_mem(&bytes, dev) == CUDA_SUCCESS) d.memory_bytes = bytes;
    d.properties["driver_cuda_version"] = std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
    if (attribute != nullptr) {
      int major = 0, minor = 0, sms = 0;
      attribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
      attribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
      attribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
      d.properties["compute_capability"] = std::to_string(major) + "." + std::to_string(minor);
      d.properties["multiprocessors"] = std::to_string(sms);
    }
    source.devices.push_back(std::move(d));
  }
  source.available = !source.devices.empty();
  if (!source.available) source.reason = "the NVIDIA driver reports no CUDA device";
  return source;
}

}  // namespace polaris::devices
