#include "backends/onnxruntime/ort_providers.h"

#include <charconv>

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <array>
#include <cctype>
#include <unordered_map>

#include "core/byte_size.h"

namespace polaris::ort {
namespace {

struct ProviderName {
  const char* canonical;
  const char* short_name;
  bool in_default_order;
};

// Default priority order, best first. TensorRT is known but only used when asked.
constexpr std::array<ProviderName, 7> kProviders{{
    {"CUDAExecutionProvider", "cuda", true},
    {"TensorrtExecutionProvider", "tensorrt", false},
    {"MIGraphXExecutionProvider", "migraphx", true},
    {"WebGpuExecutionProvider", "webgpu", true},
    {"DmlExecutionProvider", "dml", false},
    {"XnnpackExecutionProvider", "xnnpack", false},
    {"CPUExecutionProvider", "cpu", true},
}};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

Result<std::string> canonical_provider_name(const std::string& name) {
  std::string n = lower(name);
  if (const auto colon = n.find(':'); colon != std::string::npos) {
    const std::string device = n.substr(colon + 1);
    if (device.empty() || device.size() > 4 || !std::all_of(device.begin(), device.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
      return InvalidArgument("'" + name + "': a device suffix must be a number (cuda:1)");
    n.resize(colon);
  }
  for (const auto& p : kProviders) {
    const std::string canonical = p.canonical;
    if (n == p.short_name || n == lower(canonical) || n + "executionprovider" == lower(canonical)) return canonical;
  }
  return InvalidArgument("unknown ONNX Runtime execution provider '" + name +
                         "' (known: cuda, tensorrt, migraphx, webgpu, dml, xnnpack, cpu)");
}

std::vector<std::string> provider_plan(const std::vector<std::string>& requested,
                                       const std::vector<std::string>& available,
                                       std::vector<std::string>& skipped) {
  std::vector<std::string> wanted;
  if (requested.empty()) {
    for (const auto& p : kProviders)
      if (p.in_default_order) wanted.emplace_back(p.canonical);
  } else {
    for (const auto& r : requested) {
      auto name = canonical_provider_name(r);
      if (!name.ok()) {
        skipped.push_back(r + ": " + name.status().message());
        continue;
      }
      wanted.push_back(*name);
    }
  }
  std::vector<std::string> plan;
  for (const auto& w : wanted) {
    if (std::find(plan.begin(), plan.end(), w) != plan.end()) continue;
    if (std::find(available.begin(), available.end(), w) == available.end()) {
      if (!requested.empty()) skipped.push_back(w + ": not in this ONNX Runtime build");
      continue;
    }
    plan.push_back(w);
  }
  if (std::find(plan.begin(), plan.end(), "CPUExecutionProvider") == plan.end())
    plan.emplace_back("CPUExecutionProvider");
  return plan;
}

// CUDA, TensorRT and MIGraphX live in provider libraries beside
// libonnxruntime; the npm build lists them but ships none. Checking first
// gives a clear reason and spares ORT's error log on every load.
void require_provider_library(const std::string& provider) {
  const char* file = provider == "CUDAExecutionProvider"       ? "libonnxruntime_providers_cuda.so"
                     : provider == "TensorrtExecutionProvider" ? "libonnxruntime_providers_tensorrt.so"
                     : provider == "MIGraphXExecutionProvider" ? "libonnxruntime_providers_migraphx.so"
                                                               : nullptr;
  if (file == nullptr) return;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&OrtGetApiBase), &info) == 0 || info.dli_fname == nullptr) return;
  const auto dir = std::filesystem::path(info.dli_fname).parent_path();
  if (!std::filesystem::exists(dir / file))
    throw Ort::Exception(std::string(file) + " is not installed beside " + info.dli_fname +
                             " (this ONNX Runtime build has no " + short_provider_name(provider) + " support)",
                         ORT_FAIL);
}

Result<ProviderOptions> provider_options(const std::vector<std::string>& requested,
                                         const std::map<std::string, std::string>& parameters) {
  ProviderOptions o;
  auto number = [](const std::string& text, const std::string& what) -> Result<int> {
    int value = -1;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > 1024)
      return InvalidArgument(what + " '" + text + "' is not a device number");
    return value;
  };
  for (const std::string& r : requested) {  // the first GPU name with a device wins
    const auto colon = r.find(':');
    if (colon == std::string::npos) continue;
    POLARIS_ASSIGN_OR_RETURN(o.device_id, number(r.substr(colon + 1), "provider '" + r + "': device"));
    break;
  }
  if (auto it = parameters.find("polaris.device_id"); it != parameters.end()) {
    POLARIS_ASSIGN_OR_RETURN(o.device_id, number(it->second, "polaris.device_id"));
  }
  if (auto it = parameters.find("polaris.gpu_memory_limit"); it != parameters.end()) {
    auto bytes = parse_byte_size(it->second);
    if (!bytes.ok()) return InvalidArgument("polaris.gpu_memory_limit: " + bytes.status().message());
    o.gpu_mem_limit = *bytes;
  }
  return o;
}

void append_provider(Ort::SessionOptions& options, const std::string& provider, const ProviderOptions& po) {
  if (provider == "CPUExecutionProvider") return;
  require_provider_library(provider);
  const std::string device = std::to_string(po.device_id);
  if (provider == "CUDAExecutionProvider") {
    OrtCUDAProviderOptionsV2* cuda = nullptr;
    Ort::ThrowOnError(Ort::GetApi().CreateCUDAProviderOptions(&cuda));
    std::unique_ptr<OrtCUDAProviderOptionsV2, decltype(Ort::GetApi().ReleaseCUDAProviderOptions)> guard(
        cuda, Ort::GetApi().ReleaseCUDAProviderOptions);
    std::vector<const char*> keys{"device_id"}, values{device.c_str()};
    const std::string limit = std::to_string(po.gpu_mem_limit);
    if (po.gpu_mem_limit > 0) keys.push_back("gpu_mem_limit"), values.push_back(limit.c_str());
    Ort::ThrowOnError(Ort::GetApi().UpdateCUDAProviderOptions(cuda, keys.data(), values.data(), keys.size()));
    options.AppendExecutionProvider_CUDA_V2(*cuda);
    return;
  }
  if (provider == "TensorrtExecutionProvider") {
    OrtTensorRTProviderOptionsV2* trt = nullptr;
    Ort::ThrowOnError(Ort::GetApi().CreateTensorRTProviderOptions(&trt));
    std::unique_ptr<OrtTensorRTProviderOptionsV2, decltype(Ort::GetApi().ReleaseTensorRTProviderOptions)> guard(
        trt, Ort::GetApi().ReleaseTensorRTProviderOptions);
    const char* keys[] = {"device_id"};
    const char* values[] = {device.c_str()};
    Ort::ThrowOnError(Ort::GetApi().UpdateTensorRTProviderOptions(trt, keys, values, 1));
    options.AppendExecutionProvider_TensorRT_V2(*trt);
    return;
  }
  if (provider == "MIGraphXExecutionProvider") {
    OrtMIGraphXProviderOptions migraphx{};
    migraphx.device_id = po.device_id;
    options.AppendExecutionProvider_MIGraphX(migraphx);
    return;
  }
  // WebGPU, XNNPACK, DML: the generic by-name entry point.
  std::string name = short_provider_name(provider);
  if (name == "webgpu") name = "WebGPU";
  if (name == "xnnpack") name = "XNNPACK";
  if (name == "dml") name = "DML";
  options.AppendExecutionProvider(name, std::unordered_map<std::string, std::string>{});
}

std::string provider_failure_reason(const std::string& provider, const std::string& ort_message) {
  std::string reason = ort_message;
  if (!reason.empty() && reason[0] == '/') {
    const auto check = reason.find(" was false. ");
    if (check != std::string::npos) reason = reason.substr(check + 12);
  }
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
  if (provider == "WebGpuExecutionProvider" && reason.find("WebGPU adapter") != std::string::npos)
    reason += " (Dawn found no Vulkan device it supports: `polaris devices` lists the Vulkan devices; "
              "VK_DRIVER_FILES chooses the driver; Debian 12's Mesa 22.3 is too old, see docs/gpu.md)";
  return reason;
}

std::string short_provider_name(const std::string& provider) {
  for (const auto& p : kProviders)
    if (provider == p.canonical) return p.short_name;
  return provider;
}

}  // namespace polaris::ort
