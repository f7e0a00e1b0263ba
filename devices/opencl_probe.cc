// OpenCL platforms and devices through the ICD loader, loaded at run time.
// Types and signatures come from the Khronos headers (Debian's
// opencl-headers); only the loader library is dlopen'ed.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <CL/cl_ext.h>  // CL_PLATFORM_NOT_FOUND_KHR

#include <sstream>
#include <utility>

#include "devices/dynamic_library.h"
#include "devices/probes.h"

namespace polaris::devices {
namespace {

struct OpenCl {
  decltype(&clGetPlatformIDs) get_platform_ids;
  decltype(&clGetPlatformInfo) get_platform_info;
  decltype(&clGetDeviceIDs) get_device_ids;
  decltype(&clGetDeviceInfo) get_device_info;
};

std::string platform_string(const OpenCl& cl, cl_platform_id p, cl_platform_info what) {
  size_t size = 0;
  if (cl.get_platform_info(p, what, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string s(size, '\0');
  if (cl.get_platform_info(p, what, size, s.data(), nullptr) != CL_SUCCESS) return "";
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

std::string device_string(const OpenCl& cl, cl_device_id d, cl_device_info what) {
  size_t size = 0;
  if (cl.get_device_info(d, what, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string s(size, '\0');
  if (cl.get_device_info(d, what, size, s.data(), nullptr) != CL_SUCCESS) return "";
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

template <typename T>
T device_value(const OpenCl& cl, cl_device_id d, cl_device_info what) {
  T value{};
  if (cl.get_device_info(d, what, sizeof(T), &value, nullptr) != CL_SUCCESS) return T{};
  return value;
}

std::string type_name(cl_device_type type) {
  if (type & CL_DEVICE_TYPE_GPU) return "gpu";
  if (type & CL_DEVICE_TYPE_CPU) return "cpu";
  if (type & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  return "other";
}

// Extensions that decide what a provider can do with the device.
std::vector<std::string> relevant_extensions(const std::string& all) {
  std::vector<std::string> out;
  std::istringstream in(all);
  std::string ext;
  while (in >> ext)
    if (ext == "cl_khr_fp16" || ext == "cl_khr_fp64" || ext == "cl_khr_int64_base_atomics" ||
        ext == "cl_intel_subgroups" || ext == "cl_khr_subgroups")
      out.push_back(ext);
  return out;
}

}  // namespace

DeviceSource probe_opencl() {
  DeviceSource source{"opencl", false, "", {}};
  static const DynamicLibrary lib("libOpenCL.so.1");
  if (!lib.loaded()) {
    source.reason = "no OpenCL ICD loader (libOpenCL.so.1: " + lib.error() +
                    "); install ocl-icd-libopencl1 and a driver (e.g. mesa-opencl-icd, pocl-opencl-icd)";
    return source;
  }
  const OpenCl cl{lib.sym<decltype(&clGetPlatformIDs)>("clGetPlatformIDs"),
                  lib.sym<decltype(&clGetPlatformInfo)>("clGetPlatformInfo"),
                  lib.sym<decltype(&clGetDeviceIDs)>("clGetDeviceIDs"),
                  lib.sym<decltype(&clGetDeviceInfo)>("clGetDeviceInfo")};
  if (!cl.get_platform_ids || !cl.get_platform_info || !cl.get_device_ids || !cl.get_device_info) {
    source.reason = "libOpenCL.so.1 lacks the OpenCL 1.2 platform/device entry points";
    return source;
  }
  cl_uint count = 0;
  const cl_int rc = cl.get_platform_ids(0, nullptr, &count);
  if (rc == CL_PLATFORM_NOT_FOUND_KHR || (rc == CL_SUCCESS && count == 0)) {
    source.reason =
        "no OpenCL platform: the ICD loader found no driver (check /etc/OpenCL/vendors and OCL_ICD_VENDORS)";
    return source;
  }
  if (rc != CL_SUCCESS) {
    source.reason = "clGetPlatformIDs failed with OpenCL error " + std::to_string(rc);
    return source;
  }
  std::vector<cl_platform_id> platforms(count);
  if (cl.get_platform_ids(count, platforms.data(), nullptr) != CL_SUCCESS) {
    source.reason = "clGetPlatformIDs failed listing " + std::to_string(count) + " platforms";
    return source;
  }
  std::vector<std::string> empty_platforms;
  for (cl_uint p = 0; p < count; ++p) {
    const std::string platform = platform_string(cl, platforms[p], CL_PLATFORM_NAME);
    cl_uint n = 0;
    if (cl.get_device_ids(platforms[p], CL_DEVICE_TYPE_ALL, 0, nullptr, &n) != CL_SUCCESS || n == 0) {
      empty_platforms.push_back(platform);
      continue;
    }
    std::vector<cl_device_id> ids(n);
    if (cl.get_device_ids(platforms[p], CL_DEVICE_TYPE_ALL, n, ids.data(), nullptr) != CL_SUCCESS) continue;
    for (cl_uint i = 0; i < n; ++i) {
      Device d;
      d.id = "opencl:" + std::to_string(p) + "." + std::to_string(i);
      d.name = device_string(cl, ids[i], CL_DEVICE_NAME);
      d.type = type_name(device_value<cl_device_type>(cl, ids[i], CL_DEVICE_TYPE));
      d.memory_bytes = device_value<cl_ulong>(cl, ids[i], CL_DEVICE_GLOBAL_MEM_SIZE);
      d.properties["platform"] = platform;
      d.properties["platform_version"] = platform_string(cl, platforms[p], CL_PLATFORM_VERSION);
      d.properties["vendor"] = device_string(cl, ids[i], CL_DEVICE_VENDOR);
      d.properties["version"] = device_string(cl, ids[i], CL_DEVICE_VERSION);
      d.properties["driver_version"] = device_string(cl, ids[i], CL_DRIVER_VERSION);
      d.properties["compute_units"] = std::to_string(device_value<cl_uint>(cl, ids[i], CL_DEVICE_MAX_COMPUTE_UNITS));
      d.features = relevant_extensions(device_string(cl, ids[i], CL_DEVICE_EXTENSIONS));
      source.devices.push_back(std::move(d));
    }
  }
  source.available = !source.devices.empty();
  if (!source.available) {
    source.reason = "OpenCL platforms without devices:";
    for (const auto& name : empty_platforms) source.reason += " '" + name + "'";
  }
  return source;
}

}  // namespace polaris::devices
