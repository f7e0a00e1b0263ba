#include "devices/provider_support.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace polaris::devices {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool env_is_one(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::string(v) == "1";
}

// ORT offers `provider` when the module lists it and, for providers that
// live in their own library, that library is installed.
ProviderUse ort_provider(const EngineFacts& f, const std::string& ort_name, const std::string& short_name,
                         const char* library) {
  ProviderUse use{"onnxruntime", short_name, false, ""};
  if (!f.ort_error.empty()) {
    use.note = "ONNX Runtime module did not start: " + f.ort_error;
  } else if (!contains(f.ort_providers, ort_name)) {
    use.note = "this ONNX Runtime build has no " + ort_name;
  } else if (library != nullptr && !std::filesystem::exists(std::filesystem::path(f.ort_library_dir) / library)) {
    use.note = std::string(library) + " is not installed beside libonnxruntime in " + f.ort_library_dir +
               " (POLARIS_ORT_FLAVOR=gpu scripts/bootstrap installs ORT's CUDA build)";
  } else {
    use.usable = true;
  }
  return use;
}

void cpu_providers(Device& d, const EngineFacts& f) {
  if (f.onnxruntime) d.providers.push_back({"onnxruntime", "cpu", true, ""});
  if (f.torch) d.providers.push_back({"torch", "cpu", true, ""});
  if (f.opencv) d.providers.push_back({"opencv", "cpu", true, ""});
}

void opencl_providers(Device& d, const EngineFacts& f) {
  if (!f.opencv) return;
  // OpenCV DNN silently runs on the CPU when the OpenCL device is not a GPU,
  // unless told to trust every device.
  const bool trusted = d.type == "gpu" || env_is_one("OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES");
  const std::string untrusted = "OpenCV DNN uses non-GPU OpenCL devices only with OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES=1";
  d.providers.push_back({"opencv", "opencl", trusted, trusted ? "" : untrusted});
  const bool fp16 = contains(d.features, "cl_khr_fp16");
  d.providers.push_back({"opencv", "opencl_fp16", fp16 && trusted,
                         !fp16 ? "the device lacks cl_khr_fp16" : trusted ? "" : untrusted});
}

// "Mesa 22.3.6" -> 22; 0 for other drivers.
int mesa_major(const Device& d) {
  const auto it = d.properties.find("driver_info");
  if (it == d.properties.end() || it->second.rfind("Mesa ", 0) != 0) return 0;
  try {
    return std::stoi(it->second.substr(5));
  } catch (const std::exception&) {
    return 0;
  }
}

void vulkan_providers(Device& d, const EngineFacts& f) {
  // ORT's WebGPU provider runs on Vulkan through Dawn, which decides at load
  // whether it accepts the device. Checked here: Debian 12's Mesa 22.3
  // lavapipe gives "No supported adapters", backports' Mesa 25 works; other
  // old Mesa drivers are untested, and say so.
  if (!f.onnxruntime) return;
  ProviderUse use = ort_provider(f, "WebGpuExecutionProvider", "webgpu", nullptr);
  const int mesa = mesa_major(d);
  if (use.usable && mesa > 0 && mesa < 25) {
    const bool lavapipe = d.properties.count("driver") && d.properties.at("driver") == "llvmpipe";
    use.usable = !lavapipe || mesa > 22;
    use.note = lavapipe && mesa <= 22
                   ? "Dawn finds no adapter on Mesa 22 lavapipe (Debian 12's); bookworm-backports' Mesa 25 works"
                   : "untested with Mesa " + std::to_string(mesa) + " (Mesa 25 works; Dawn decides at load)";
  }
  d.providers.push_back(use);
}

void cuda_providers(Device& d, const EngineFacts& f) {
  if (f.onnxruntime)
    d.providers.push_back(ort_provider(f, "CUDAExecutionProvider", "cuda", "libonnxruntime_providers_cuda.so"));
  if (f.torch) {
    // "cuda:0" is the name torch takes; it is usable when the torch module
    // found the device (libtorch's CUDA libraries are installed).
    const std::string ordinal = d.id.substr(d.id.find(':') + 1);
    ProviderUse use{"torch", "cuda:" + ordinal, contains(f.torch_providers, "cuda:" + ordinal), ""};
    if (!use.usable)
      use.note = !f.torch_error.empty() ? "torch module did not start: " + f.torch_error
                                        : "libtorch does not see this device (its CUDA libraries are missing)";
    d.providers.push_back(use);
  }
}

// An AMD GPU is used through the driver stacks above: the note names the
// Vulkan or OpenCL device it appears as, or the package that would add it.
void amd_providers(Device& d, const DeviceReport& report, const EngineFacts& f) {
  const DeviceSource* vulkan = report.source("vulkan");
  const Device* vk = nullptr;
  if (vulkan != nullptr)
    for (const auto& v : vulkan->devices)
      if (v.properties.count("vendor_id") && v.properties.at("vendor_id") == "0x1002" && v.type != "cpu") vk = &v;
  if (f.onnxruntime) {
    ProviderUse use = ort_provider(f, "WebGpuExecutionProvider", "webgpu", nullptr);
    if (vk == nullptr) {
      use.usable = false;
      use.note = "no Vulkan device for it: install Mesa's RADV (mesa-vulkan-drivers)";
    } else {
      use.note = "as " + vk->id;
    }
    d.providers.push_back(use);
  }
  const DeviceSource* opencl = report.source("opencl");
  const Device* cl = nullptr;
  if (opencl != nullptr)
    for (const auto& c : opencl->devices)
      if (c.type == "gpu" && c.properties.count("vendor") &&
          (c.properties.at("vendor").find("AMD") != std::string::npos ||
           c.properties.at("vendor").find("Advanced Micro Devices") != std::string::npos))
        cl = &c;
  if (f.opencv)
    d.providers.push_back({"opencv", "opencl", cl != nullptr,
                           cl != nullptr ? "as " + cl->id
                                         : "no OpenCL device for it: install mesa-opencl-icd (clover; rusticl with "
                                           "RUSTICL_ENABLE=radeonsi) or AMD's legacy OpenCL driver"});
}

}  // namespace

void assign_providers(DeviceReport& report, const EngineFacts& facts) {
  for (auto& source : report.sources) {
    for (auto& d : source.devices) {
      d.providers.clear();
      if (source.name == "cpu") cpu_providers(d, facts);
      if (source.name == "opencl") opencl_providers(d, facts);
      if (source.name == "vulkan") vulkan_providers(d, facts);
      if (source.name == "cuda") cuda_providers(d, facts);
      if (source.name == "amd") amd_providers(d, report, facts);
    }
  }
}

}  // namespace polaris::devices
