// ModelMeshRuntime: ModelMesh's model runtime contract (proto/model_runtime.proto,
// docs/deploy.md "ModelMesh") over the model manager, without the wire.
//
// ModelMesh decides which pod holds which model; each model it places here
// is added to the manager under ModelMesh's model id (ModelManager::add_model)
// and served by the ordinary inference service on the same gRPC port. The
// manager's budget is the capacity ModelMesh is told, its prediction and its
// measurement are the sizes ModelMesh counts, and its own least-recently-used
// eviction stays on: should ModelMesh's accounting and the budget ever
// disagree, an idle model is evicted (and reloads on its next request)
// rather than the budget being exceeded.
//
// Per model id, loads and unloads run one at a time: an unload that arrives
// while its model loads (ModelMesh cancels a load, then unloads at once)
// waits for the load to end and then removes what it loaded, so a cancelled
// load never leaves a model behind.
// Thread-safety: every method is thread-safe; load and unload block.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "core/status.h"
#include "proto/model_config.pb.h"
#include "runtime/model_manager.h"

namespace polaris {

// A model as ModelMesh names it: its id, its format ("onnx", "pytorch",
// ...; may be empty), where its files are and its key (a JSON object from
// ModelMesh's model registry, possibly with "disk_size_bytes").
struct MeshModelRequest {
  std::string id, type, path, key;
};

// What a loadModel's files are, read from a ModelMesh model path: a model
// file, or a folder holding one (a Triton model folder with config.pbtxt and
// version folders, or the model file directly inside). `config` is the
// folder's config.pbtxt (named after the model id) or empty, with the
// platform set from the model type when it is known.
struct MeshModelFiles {
  std::string file;
  inference::ModelConfig config;
  std::string dir;  // the model folder (warm-up data files are in its warmup/); empty: the file's
};
Result<MeshModelFiles> resolve_mesh_model_files(const MeshModelRequest& request);

struct MeshRuntimeStatus {
  uint64_t capacity_bytes = 0;
  uint32_t max_loading_concurrency = 1;  // the manager loads one model at a time
  uint32_t model_loading_timeout_ms = 0;
  uint64_t default_model_size_bytes = 0;
};

class ModelMeshRuntime {
 public:
  explicit ModelMeshRuntime(ModelManager& manager) : manager_(manager) {}

  // Loads the model and returns its measured size. InvalidArgument when the
  // request cannot name a model to load (nothing attempted);
  // FailedPrecondition when the id is a model Polaris serves from its own
  // repository. A load of an id already loaded returns its size again.
  // `cancelled` is asked once the load is done: when true, the model is
  // unloaded again before returning Cancelled.
  Result<uint64_t> load(const MeshModelRequest& request, const std::function<bool()>& cancelled = {});
  // Unloads and forgets the model; Ok at once when it is not loaded.
  Status unload(const std::string& id);
  // The bytes a load would reserve: from the files when they are on this
  // disk, else from the key's disk_size_bytes and the model type, else the
  // default model size. Never loads a model.
  Result<uint64_t> predict_size(const MeshModelRequest& request);
  // The measured size of a loaded model (its prediction while it is
  // evicted and not yet reloaded); NotFound when ModelMesh did not load it.
  Result<uint64_t> model_size(const std::string& id);
  // Unloads every model ModelMesh loaded (before answering READY), then the
  // runtime's capacity and limits.
  MeshRuntimeStatus status();

  static constexpr uint64_t kDefaultModelSizeBytes = uint64_t{128} << 20;
  static constexpr uint32_t kModelLoadingTimeoutMs = 120000;

 private:
  // Marks `id` busy (waiting while another load or unload of it runs) and
  // unmarks it when destroyed.
  class IdLock;

  ModelManager& manager_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::set<std::string> busy_;    // ids being loaded or unloaded; guarded by mu_
  std::set<std::string> loaded_;  // ids ModelMesh loaded and did not unload; guarded by mu_
};

}  // namespace polaris
