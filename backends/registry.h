// BackendRegistry: finds, loads and keeps the engine modules.
//
// A module (libpolaris_backend_<name>.so) is dlopen'ed the first time a model
// needs it, so the server starts fast, idles small, and keeps serving other
// models when an engine is missing or broken (that model gets a clear error).
// This is also the seed's create_loader(): backend_for_path() picks the
// engine from the file extension, overridable by config.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "backends/backend.h"

namespace polaris {

class BackendRegistry {
 public:
  // `module_dir` empty: $POLARIS_BACKEND_DIR, else <executable dir>/../lib/polaris
  // (an install) or <executable dir>/../lib (the build tree).
  explicit BackendRegistry(BackendConfig config, std::string module_dir = "");
  ~BackendRegistry();
  BackendRegistry(const BackendRegistry&) = delete;
  BackendRegistry& operator=(const BackendRegistry&) = delete;

  // The backend named `name`, loading its module on first use.
  Result<Backend*> get(std::string_view name);
  // The backend a model file needs: `override_name` (config `backend` or a
  // Triton `platform` such as onnxruntime_onnx) if given, else by extension.
  Result<Backend*> backend_for(const std::string& path, std::string_view override_name = "");
  // Loads a model with the right backend: create_loader() and load() in one.
  Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& options,
                                      std::string_view override_name = "");
  // Names of modules already loaded, for diagnostics.
  std::vector<std::string> loaded_backends() const;
  const std::string& module_dir() const { return module_dir_; }
  const BackendConfig& config() const { return config_; }

  // ".onnx"/".ort" -> onnxruntime, ".pt"/".pth"/".torchscript"/".jit" -> torch.
  static Result<std::string> backend_name_for_path(const std::string& path);
  // Maps config names (backend or Triton platform) to a module name.
  static Result<std::string> backend_name_for_override(std::string_view name);

 private:
  struct Module {
    void* handle = nullptr;
    std::unique_ptr<Backend> backend;
  };
  Result<Backend*> load_module(const std::string& name);

  BackendConfig config_;
  std::string module_dir_;
  mutable std::mutex mu_;
  std::map<std::string, Module, std::less<>> modules_;  // guarded by mu_
  std::map<std::string, Status, std::less<>> failures_;  // guarded by mu_: a broken module fails fast
};

}  // namespace polaris
