#include "runtime/multi_model_server.h"

#include <stdexcept>

namespace polaris {

MultiModelServer::MultiModelServer(std::size_t max_models, uint64_t memory_limit_mb, BackendConfig backends)
    : max_models_(max_models),
      memory_limit_mb_(memory_limit_mb),
      owned_registry_(std::make_unique<BackendRegistry>(std::move(backends))) {
  start_manager(*owned_registry_);
}

MultiModelServer::MultiModelServer(std::size_t max_models, uint64_t memory_limit_mb, BackendRegistry& registry)
    : max_models_(max_models), memory_limit_mb_(memory_limit_mb) {
  start_manager(registry);
}

void MultiModelServer::start_manager(BackendRegistry& registry) {
  ManagerOptions options;
  options.mode = ControlMode::kExplicit;
  if (max_models_ > 0) options.max_models = max_models_;
  options.memory_limits["cpu"] = memory_limit_mb_ > 0 ? memory_limit_mb_ << 20 : default_cpu_memory_limit();
  auto manager = ModelManager::create(std::move(options), registry);
  // Without a repository, create() has nothing that can fail.
  if (!manager.ok()) throw std::runtime_error(manager.status().message());
  manager_ = std::move(*manager);
}

MultiModelServer::~MultiModelServer() = default;

Status MultiModelServer::load_model(const std::string& name, const std::string& path,
                                    inference::ModelConfig config) {
  return manager_->add_model(name, path, std::move(config));
}

Result<NamedTensors> MultiModelServer::predict(const std::string& name, const NamedTensors& inputs,
                                               const std::vector<std::string>& requested_outputs) {
  POLARIS_ASSIGN_OR_RETURN(ModelHandle handle, manager_->acquire(name));
  return handle.run(inputs, requested_outputs);
}

Status MultiModelServer::unload_model(const std::string& name) { return manager_->remove_model(name); }

std::vector<std::string> MultiModelServer::list_models() const {
  std::vector<std::string> names;
  for (const auto& row : manager_->index())
    if (names.empty() || names.back() != row.name) names.push_back(row.name);
  return names;
}

Result<ModelMetadata> MultiModelServer::model_metadata(const std::string& name) {
  POLARIS_ASSIGN_OR_RETURN(ModelHandle handle, manager_->acquire(name));
  return handle.metadata();
}

}  // namespace polaris
