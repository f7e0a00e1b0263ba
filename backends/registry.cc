#include "backends/registry.h"

#include <dlfcn.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/executable_dir.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;

// An installed binary keeps its modules in ../lib/polaris (beside the engine
// libraries they bundle, cmake/PolarisInstall.cmake); the build tree in ../lib.
std::string default_module_dir() {
  if (const char* env = std::getenv("POLARIS_BACKEND_DIR"); env && *env) return env;
  const std::string exe_dir = executable_dir();
  if (exe_dir.empty()) return "lib";
  const fs::path lib = fs::path(exe_dir).parent_path() / "lib";
  std::error_code ec;
  if (fs::is_directory(lib / "polaris", ec)) return (lib / "polaris").string();
  return lib.string();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

BackendRegistry::BackendRegistry(BackendConfig config, std::string module_dir)
    : config_(std::move(config)), module_dir_(module_dir.empty() ? default_module_dir() : std::move(module_dir)) {
  // OpenMP (libtorch's) reads its wait policy once, when its library loads,
  // before any module code runs; busy-waiting workers would steal the cores
  // other models need. A user's own setting wins (overwrite = 0).
  if (!config_.threads.allow_spinning) setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
}

BackendRegistry::~BackendRegistry() {
  // Backends are destroyed (engines release their environments); modules
  // stay mapped, because unloading libtorch or ORT is not supported cleanly.
  std::lock_guard lock(mu_);
  for (auto& [name, module] : modules_) module.backend.reset();
}

Result<std::string> BackendRegistry::backend_name_for_path(const std::string& path) {
  const std::string ext = lower(fs::path(path).extension().string());
  if (ext == ".onnx" || ext == ".ort") return std::string("onnxruntime");
  if (ext == ".pt" || ext == ".pth" || ext == ".torchscript" || ext == ".jit") return std::string("torch");
  return InvalidArgument("cannot tell the engine of '" + path + "' from its extension '" + ext +
                         "': use .onnx/.ort (ONNX Runtime) or .pt/.pth/.torchscript (TorchScript), or set the "
                         "model's backend/platform in its config");
}

Result<std::string> BackendRegistry::backend_name_for_override(std::string_view name) {
  const std::string n = lower(name);
  if (n == "onnxruntime" || n == "onnxruntime_onnx" || n == "onnx") return std::string("onnxruntime");
  if (n == "torch" || n == "pytorch" || n == "pytorch_libtorch" || n == "libtorch" || n == "torchscript")
    return std::string("torch");
  if (n == "opencv" || n == "opencv_dnn") return std::string("opencv");
  return InvalidArgument("unknown backend '" + std::string(name) + "' (known: onnxruntime, pytorch, opencv)");
}

Result<Backend*> BackendRegistry::get(std::string_view name) {
  std::lock_guard lock(mu_);
  if (auto it = modules_.find(name); it != modules_.end()) return it->second.backend.get();
  if (auto it = failures_.find(name); it != failures_.end()) return it->second;
  auto loaded = load_module(std::string(name));
  if (!loaded.ok()) failures_.emplace(std::string(name), loaded.status());
  return loaded;
}

namespace {

// libtorch's CUDA half must be loaded globally before the torch module, on
// machines with a CUDA driver: loaded from inside the module (RTLD_LOCAL),
// cuDNN's first std::call_once jumped to address 0 on an H200 (torch 2.11,
// cuDNN 9), while loaded first and globally every model ran on the GPU
// (tools/gpu-check, docs/gpu.md). Without a driver nothing is loaded: CPU
// machines keep libtorch entirely local.
// libtorch_cuda.so is looked for beside the modules first (an install made
// with POLARIS_INSTALL_TORCH_CUDA), then in the libtorch the build used.
void preload_torch_cuda(const std::string& module_dir) {
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (driver == nullptr) return;
  std::vector<std::string> candidates{module_dir + "/libtorch_cuda.so"};
#ifdef POLARIS_TORCH_LIBRARY_DIR
  candidates.push_back(std::string(POLARIS_TORCH_LIBRARY_DIR) + "/libtorch_cuda.so");
#endif
  for (const std::string& cuda : candidates) {
    if (!fs::exists(cuda)) continue;
    // Not fatal: the module then reports why CUDA is unavailable.
    if (dlopen(cuda.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) (void)dlerror();
    return;
  }
}

}  // namespace

Result<Backend*> BackendRegistry::load_module(const std::string& name) {
  const std::string file = module_dir_ + "/libpolaris_backend_" + name + ".so";
  if (!fs::exists(file))
    return Unavailable("backend '" + name + "' is not available: " + file +
                       " does not exist (was Polaris built with this engine switched off?)");
  if (name == "torch") preload_torch_cuda(module_dir_);
  // RTLD_LOCAL keeps each engine's symbols (libtorch's bundled protobuf and
  // onnx among them) out of the global namespace.
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return Unavailable("backend '" + name + "' failed to load: " + dlerror());
  auto create = reinterpret_cast<PolarisCreateBackendFn>(dlsym(handle, kPolarisCreateBackendSymbol));
  if (create == nullptr)
    return Unavailable("backend '" + name + "': " + file + " has no " + kPolarisCreateBackendSymbol);
  std::string error;
  Backend* backend = create(kBackendAbiVersion, &config_, &error);
  if (backend == nullptr) return Unavailable("backend '" + name + "' failed to start: " + error);
  auto& module = modules_[name];
  module.handle = handle;
  module.backend.reset(backend);
  return backend;
}

Result<Backend*> BackendRegistry::backend_for(const std::string& path, std::string_view override_name) {
  POLARIS_ASSIGN_OR_RETURN(std::string name, override_name.empty() ? backend_name_for_path(path)
                                                                    : backend_name_for_override(override_name));
  return get(name);
}

Result<std::unique_ptr<Model>> BackendRegistry::load(const std::string& path, const LoadOptions& options,
                                                     std::string_view override_name) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return NotFound("model file '" + path + "' does not exist");
  if (fs::is_directory(status)) return InvalidArgument("model path '" + path + "' is a directory, not a model file");
  POLARIS_ASSIGN_OR_RETURN(Backend * backend, backend_for(path, override_name));
  return backend->load(path, options);
}

std::vector<std::string> BackendRegistry::loaded_backends() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, module] : modules_) names.push_back(name);
  return names;
}

}  // namespace polaris
