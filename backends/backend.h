// The one interface between Polaris and an inference engine.
//
// Each engine (ONNX Runtime, libtorch, OpenCV DNN) is a shared module,
// libpolaris_backend_<name>.so, loaded on first use by BackendRegistry; the
// module exports one C function, polaris_create_backend, returning a Backend.
// Nothing above backends/ includes an engine header: engines throw, backends
// catch and return Status.
//
// Lifetime: a Backend lives until the process ends (modules are never
// unloaded: libtorch and ORT do not support it cleanly). A Model is one
// loaded model; destroying it unloads the model and frees its memory.
// Thread-safety: Backend::load and Model::run may be called concurrently
// from any threads.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model_metadata.h"
#include "core/status.h"
#include "core/tensor.h"

namespace polaris {

// Bumped whenever this header changes in a way modules must be rebuilt for.
inline constexpr int kBackendAbiVersion = 2;

// Graph optimisation, as the seed numbered it (0 disable, 1 basic, 2 all),
// plus ONNX Runtime's `extended` between basic and all.
enum class OptimizationLevel { kDisable = 0, kBasic = 1, kAll = 2, kExtended = 3 };
// Accepts "0" "1" "2" "disable" "basic" "extended" "all".
std::optional<OptimizationLevel> parse_optimization_level(std::string_view text);
std::string_view to_string(OptimizationLevel level);

// The process-wide engine thread budget, set once when a module is loaded:
// every model of every engine shares it (ORT global thread pools, libtorch
// intra/inter-op threads), so ten models never mean ten thread pools.
struct EngineThreads {
  int intra_op = 0;  // 0: one per core
  int inter_op = 1;
  bool allow_spinning = false;  // spinning burns cores other models need
};

struct BackendConfig {
  EngineThreads threads;
  std::string cache_dir;  // optimized-model cache etc.; empty: no cache
  // How a module reports trouble that no call returns (a background cache
  // write that failed): the host's log. Null: standard error.
  std::function<void(const std::string& message)> warn;
};

// `config.warn`, or standard error without it.
inline void warn_host(const BackendConfig& config, const std::string& message) {
  if (config.warn)
    config.warn(message);
  else
    std::fprintf(stderr, "warning: %s\n", message.c_str());
}

// How to load one model.
struct LoadOptions {
  std::string model_name;  // reported name; empty: the file's stem
  // Providers/devices in order of preference ("cuda", "webgpu", "cpu", or
  // ORT names such as "CPUExecutionProvider"); empty: the backend's default
  // priority order. The first that initialises wins; failures are recorded in
  // metadata.extra_info.
  std::vector<std::string> providers;
  OptimizationLevel optimization_level = OptimizationLevel::kAll;
  // Backend-specific settings (e.g. a TorchScript sidecar with input dtypes
  // and shapes); unknown keys are ignored.
  std::map<std::string, std::string> parameters;
};

// The model config's parameter that chooses providers per model, e.g.
// parameters { key: "polaris.provider" value: { string_value: "webgpu,cpu" } }
// in config.pbtxt. Comma-separated, in order of preference.
inline constexpr const char* kProviderParameter = "polaris.provider";

// The providers a load asks for: the "polaris.provider" parameter when set
// (a model's own config beats the server-wide --provider), else
// options.providers.
std::vector<std::string> requested_providers(const LoadOptions& options);

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelMetadata& metadata() const = 0;
  // Runs one batch. Inputs are read in place where the engine allows (no
  // copy); outputs own or keep alive their memory. `requested_outputs`
  // empty means every output, in metadata order.
  virtual Result<NamedTensors> run(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;  // "onnxruntime", "torch", "opencv"
  virtual std::string engine_version() const = 0;  // of the engine running, e.g. "1.30.0"
  // Providers/devices this machine can use, best first.
  virtual std::vector<std::string> available_providers() const = 0;
  // Cheap, conservative: before loading (file size x a backend factor).
  virtual uint64_t predict_memory_bytes(uint64_t file_size_bytes) const = 0;
  virtual Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& options) = 0;
};

// The metadata every backend fills the same way before loading: name (the
// options' or the file's stem), framework, path, file size, predicted
// memory, optimisation level.
ModelMetadata base_metadata(const std::string& path, std::string framework, uint64_t file_size,
                            uint64_t predicted_memory, const LoadOptions& options);

// The body of every module's polaris_create_backend: checks the ABI, builds
// the backend with `make()`, and turns a failure into `error`. Engines throw
// when they cannot start; the registry then reports the module as broken.
template <typename Make>
Backend* create_backend_checked(int abi_version, const BackendConfig* config, std::string* error,
                                const char* engine, Make make) {
  auto fail = [&](const std::string& message) -> Backend* {
    if (error != nullptr) *error = message;
    return nullptr;
  };
  if (abi_version != kBackendAbiVersion)
    return fail(std::string(engine) + " backend built for backend ABI " + std::to_string(kBackendAbiVersion) +
                ", loaded by ABI " + std::to_string(abi_version) + ": rebuild the module");
  if (config == nullptr) return fail(std::string(engine) + " backend: no BackendConfig given");
  try {
    return make(*config);
  } catch (const std::exception& e) {
    return fail(std::string(engine) + " failed to start: " + e.what());
  }
}

}  // namespace polaris

// What each module exports. `error` receives a message when null is returned.
extern "C" {
using PolarisCreateBackendFn = polaris::Backend* (*)(int abi_version, const polaris::BackendConfig* config,
                                                     std::string* error);
}
inline constexpr const char* kPolarisCreateBackendSymbol = "polaris_create_backend";
