#include "server/modelmesh_runtime.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "backends/registry.h"
#include "runtime/model_config.h"
#include "runtime/model_repository.h"

namespace polaris {
namespace fs = std::filesystem;

namespace {

// The Triton platform of a ModelMesh model type; empty when the type is
// empty (the file's extension decides). KServe names TorchScript "pytorch".
Result<std::string> platform_for_type(std::string type) {
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  if (type.empty()) return std::string();
  if (type == "onnx" || type == "onnxruntime_onnx") return std::string("onnxruntime_onnx");
  if (type == "pytorch" || type == "torchscript" || type == "pytorch_libtorch") return std::string("pytorch_libtorch");
  return InvalidArgument("model type '" + type + "' is not one Polaris serves (onnx, pytorch)");
}

bool known_model_file(const fs::path& path) {
  return BackendRegistry::backend_name_for_path(path.string()).ok();
}

// A Triton model folder (config.pbtxt beside version folders): the file of
// the latest version its policy selects, and the config named `id`.
Result<MeshModelFiles> triton_model_folder(const std::string& dir, const std::string& id) {
  POLARIS_ASSIGN_OR_RETURN(inference::ModelConfig config, read_model_config(dir + "/config.pbtxt"));
  config.set_name(id);  // ModelMesh's id names the model, whatever the folder called it
  RepositoryModel model = scan_model_folder(dir, id, config);
  if (!model.status.ok()) return InvalidArgument("model folder " + dir + ": " + model.status.message());
  if (model.versions.empty()) return InvalidArgument("model folder " + dir + " has no version to load");
  return MeshModelFiles{model.versions.back().path, std::move(model.config), dir};
}

// A folder without config.pbtxt: model.onnx (or .pt, ...) in it or in its
// latest version folder, else its one file with a model extension (a
// puller keeps the stored object's name, "mnist.onnx").
Result<std::string> model_file_in(const std::string& dir) {
  if (auto file = find_model_file(dir, {}); file.ok()) return *file;
  std::optional<int64_t> latest;
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory(ec)) {
      if (auto v = parse_version_folder(name); v && (!latest || *v > *latest)) latest = v;
    } else if (e.is_regular_file(ec) && known_model_file(e.path())) {
      candidates.push_back(e.path());
    }
  }
  if (ec) return InvalidArgument("cannot read model folder " + dir + ": " + ec.message());
  if (latest) {
    if (auto file = find_model_file(dir + "/" + std::to_string(*latest), {}); file.ok()) return *file;
  }
  if (candidates.size() == 1) return candidates.front().string();
  if (candidates.size() > 1)
    return InvalidArgument("model folder " + dir + " holds " + std::to_string(candidates.size()) +
                           " model files: name one in config.pbtxt (default_model_filename)");
  return InvalidArgument("no model file in " + dir +
                         ": looked for config.pbtxt, model.onnx / model.ort / model.pt / model.pth / "
                         "model.torchscript (also in the latest version folder), or one .onnx/.pt file");
}

// disk_size_bytes of ModelMesh's model key (a JSON object), if it has one.
std::optional<uint64_t> key_disk_size(const std::string& key) {
  const nlohmann::json parsed = nlohmann::json::parse(key, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  const auto it = parsed.find("disk_size_bytes");
  if (it == parsed.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<uint64_t>();
}

}  // namespace

Result<MeshModelFiles> resolve_mesh_model_files(const MeshModelRequest& request) {
  if (request.id.empty()) return InvalidArgument("the request has no modelId");
  if (request.path.empty()) return InvalidArgument("model '" + request.id + "' has no modelPath");
  POLARIS_ASSIGN_OR_RETURN(const std::string platform, platform_for_type(request.type));
  std::error_code ec;
  const fs::file_status status = fs::status(request.path, ec);
  MeshModelFiles files;
  if (fs::is_regular_file(status)) {
    files.file = request.path;
  } else if (fs::is_directory(status)) {
    if (fs::exists(request.path + "/config.pbtxt", ec)) {
      POLARIS_ASSIGN_OR_RETURN(files, triton_model_folder(request.path, request.id));
    } else {
      POLARIS_ASSIGN_OR_RETURN(files.file, model_file_in(request.path));
    }
  } else {
    return InvalidArgument("model path " + request.path + " of '" + request.id + "' does not exist");
  }
  // The type decides only where neither the config nor the extension does:
  // a platform in an otherwise empty config would make it a config to check
  // the model against.
  if (!platform.empty() && files.config.platform().empty() && files.config.backend().empty() &&
      !known_model_file(files.file))
    files.config.set_platform(platform);
  return files;
}

class ModelMeshRuntime::IdLock {
 public:
  IdLock(ModelMeshRuntime& runtime, std::string id) : runtime_(runtime), id_(std::move(id)) {
    std::unique_lock lock(runtime_.mu_);
    runtime_.changed_.wait(lock, [&] { return !runtime_.busy_.contains(id_); });
    runtime_.busy_.insert(id_);
  }
  ~IdLock() {
    {
      std::lock_guard lock(runtime_.mu_);
      runtime_.busy_.erase(id_);
    }
    runtime_.changed_.notify_all();
  }
  IdLock(const IdLock&) = delete;
  IdLock& operator=(const IdLock&) = delete;

 private:
  ModelMeshRuntime& runtime_;
  const std::string id_;
};

Result<uint64_t> ModelMeshRuntime::load(const MeshModelRequest& request, const std::function<bool()>& cancelled) {
  POLARIS_ASSIGN_OR_RETURN(MeshModelFiles files, resolve_mesh_model_files(request));
  IdLock hold(*this, request.id);
  bool already_loaded = false;
  {
    std::lock_guard lock(mu_);
    already_loaded = loaded_.contains(request.id);
  }
  if (already_loaded) return model_size(request.id);  // a retried load
  if (Status added = manager_.add_model(request.id, files.file, files.config, files.dir); !added.ok()) {
    if (added.code() == StatusCode::kAlreadyExists)
      return FailedPrecondition("'" + request.id + "' is a model of Polaris's own repository, not ModelMesh's");
    return added;
  }
  {
    std::lock_guard lock(mu_);
    loaded_.insert(request.id);
  }
  spdlog::info("ModelMesh loaded '{}' from {}", request.id, files.file);
  if (cancelled && cancelled()) {
    // ModelMesh gave up on this load; its unload may have come and gone
    // before the load held the id. Nothing may stay loaded.
    spdlog::info("ModelMesh cancelled the load of '{}': unloading it", request.id);
    if (Status removed = manager_.remove_model(request.id); !removed.ok()) return removed;
    std::lock_guard lock(mu_);
    loaded_.erase(request.id);
    return Status(StatusCode::kCancelled, "the load of '" + request.id + "' was cancelled");
  }
  return model_size(request.id);
}

Status ModelMeshRuntime::unload(const std::string& id) {
  IdLock hold(*this, id);
  {
    std::lock_guard lock(mu_);
    if (!loaded_.contains(id)) return Status::Ok();
  }
  POLARIS_RETURN_IF_ERROR(manager_.remove_model(id));
  std::lock_guard lock(mu_);
  loaded_.erase(id);
  spdlog::info("ModelMesh unloaded '{}'", id);
  return Status::Ok();
}

Result<uint64_t> ModelMeshRuntime::predict_size(const MeshModelRequest& request) {
  // The files, when the puller has already placed them here.
  if (auto files = resolve_mesh_model_files(request); files.ok())
    return manager_.predict_load_bytes(request.id, files->file, files->config);
  // Else the stored size ModelMesh keeps, through the engine's estimate.
  const std::optional<uint64_t> disk_size = key_disk_size(request.key);
  auto platform = platform_for_type(request.type);
  if (disk_size && platform.ok() && !platform->empty()) {
    auto module = BackendRegistry::backend_name_for_override(*platform);
    if (module.ok()) {
      auto backend = manager_.registry().get(*module);
      if (backend.ok()) return (*backend)->predict_memory_bytes(*disk_size);
    }
  }
  return kDefaultModelSizeBytes;
}

Result<uint64_t> ModelMeshRuntime::model_size(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    if (!loaded_.contains(id)) return NotFound("ModelMesh has not loaded a model '" + id + "' here");
  }
  uint64_t resident = 0, predicted = 0;
  for (const ModelVersionStatus& row : manager_.status(id)) {
    resident += row.resident_bytes;
    predicted += row.predicted_bytes;
  }
  return resident > 0 ? resident : predicted;
}

MeshRuntimeStatus ModelMeshRuntime::status() {
  std::vector<std::string> stale;
  {
    std::lock_guard lock(mu_);
    stale.assign(loaded_.begin(), loaded_.end());
  }
  for (const std::string& id : stale) {
    if (Status s = unload(id); !s.ok()) spdlog::warn("ModelMesh runtimeStatus: unloading '{}': {}", id, s.message());
  }
  MeshRuntimeStatus status;
  for (const DeviceMemory& device : manager_.memory())
    if (device.device == "cpu") status.capacity_bytes = device.budget;
  status.model_loading_timeout_ms = kModelLoadingTimeoutMs;
  status.default_model_size_bytes = kDefaultModelSizeBytes;
  return status;
}

}  // namespace polaris
