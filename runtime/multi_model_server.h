// MultiModelServer: the seed's API in C++, for using Polaris as a library
// with no network server:
//
//   polaris::MultiModelServer server(/*max_models=*/5, /*memory_limit_mb=*/6000);
//   server.load_model("resnet50", "models/resnet50.onnx");
//   auto outputs = server.predict("resnet50", inputs);
//
// A thin facade over ModelManager (explicit mode, no repository): the same
// budget, LRU eviction (an evicted model reloads on its next predict),
// warm-up, statistics and concurrency guarantees as the server.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "core/model_metadata.h"
#include "core/status.h"
#include "core/tensor.h"
#include "runtime/model_manager.h"

namespace polaris {

class MultiModelServer {
 public:
  // memory_limit_mb: the CPU budget in MiB (0: default_cpu_memory_limit()).
  explicit MultiModelServer(std::size_t max_models = 5, uint64_t memory_limit_mb = 6000,
                            BackendConfig backends = {});
  // Shares `registry` (it must outlive the server): one process keeps one
  // set of engine modules and one thread budget however many servers and
  // loaders it makes (the Python package does this).
  MultiModelServer(std::size_t max_models, uint64_t memory_limit_mb, BackendRegistry& registry);
  ~MultiModelServer();

  // `config`: as a config.pbtxt would give it (batching, instances, ...);
  // empty: the one beside the file, else the defaults.
  Status load_model(const std::string& name, const std::string& path, inference::ModelConfig config = {});
  Result<NamedTensors> predict(const std::string& name, const NamedTensors& inputs,
                               const std::vector<std::string>& requested_outputs = {});
  Status unload_model(const std::string& name);
  // Names of the models added and not unloaded, loaded or evicted.
  std::vector<std::string> list_models() const;
  // The loaded model's metadata (loading it again if it was evicted).
  Result<ModelMetadata> model_metadata(const std::string& name);

  std::size_t max_models() const { return max_models_; }
  uint64_t memory_limit_mb() const { return memory_limit_mb_; }
  ModelManager& manager() { return *manager_; }

 private:
  void start_manager(BackendRegistry& registry);

  std::size_t max_models_;
  uint64_t memory_limit_mb_;
  std::unique_ptr<BackendRegistry> owned_registry_;  // null when shared
  std::unique_ptr<ModelManager> manager_;
};

}  // namespace polaris
