// InferenceService: what the KServe v2 frontends (HTTP, gRPC) ask of
// Polaris, in protocol-neutral terms. The frontends only decode and encode;
// checks, model lookup, running and the classification extension live here
// once, so both protocols answer the same way.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "proto/model_config.pb.h"
#include "runtime/model_manager.h"
#include "server/infer_types.h"
#include "server/shared_memory_registry.h"

namespace polaris {

struct TensorMetadataView {
  std::string name;
  std::string datatype;  // KServe name: "FP32", "BYTES", ...
  std::vector<int64_t> shape;  // -1 for variable dims; batch dim first when batching
};

struct ModelMetadataView {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;  // "onnxruntime_onnx", "pytorch_libtorch"
  std::vector<TensorMetadataView> inputs, outputs;
};

struct ServerMetadataView {
  std::string name;
  std::string version;
  std::vector<std::string> extensions;
};

// "" -> 0 (latest), "3" -> 3; InvalidArgument for anything else.
Result<int64_t> parse_model_version(std::string_view text);

using InferDone = std::function<void(Result<InferResponse>)>;

// One parameter of a repository load request, as a frontend received it.
// Triton's: "config" (a string: the model config as protobuf-JSON) and
// "file:<version>/<name>" (bytes: gRPC's bytes_param, or HTTP's base64
// string once the frontend decoded it). InferenceService::load_model
// interprets them, the same for both protocols.
struct LoadParameter {
  enum class Kind { kString, kBytes, kOther };
  std::string key;
  Kind kind = Kind::kOther;
  std::string_view value;  // kString, kBytes: the content (the caller keeps it); kOther: the wire type's name
};

// The scheduling options a request's parameters carry: "priority",
// "timeout" (microseconds), "sequence_id" (number or string; 0 = none),
// "sequence_start", "sequence_end". InvalidArgument for wrong types.
Result<RequestOptions> request_options(const Parameters& parameters);

class InferenceService {
 public:
  explicit InferenceService(ModelManager& manager) : manager_(manager) {}

  bool live() const { return true; }
  // False once shutdown began: load balancers stop sending work.
  bool ready() const { return ready_.load(); }
  void set_ready(bool ready) { ready_ = ready; }

  ServerMetadataView server_metadata() const;
  // Metadata and config come from the loaded model (a lazy model loads).
  Result<ModelMetadataView> model_metadata(std::string_view name, int64_t version);
  Result<inference::ModelConfig> model_config(std::string_view name, int64_t version);
  // NotFound for unknown models. In lazy mode with autoload (the default) a
  // listed model that is not loaded yet loads now (ready once it did); in
  // other modes, or with --no-autoload, nothing loads: loaded means ready.
  Result<bool> model_ready(std::string_view name, int64_t version);
  // Every version of `name` (every model when empty); version 0: all.
  Result<std::vector<ModelManager::VersionStatistics>> statistics(std::string_view name, int64_t version) const;
  std::vector<ModelVersionStatus> repository_index(bool ready_only);
  // Loads (or reloads) `name`. With load parameters, Triton's override: the
  // config replaces config.pbtxt and, with files, the files replace the
  // model's folder (written to a private temporary folder), so a model not
  // in the repository can be loaded too (docs/server.md, "Loading with a
  // config and files"). InvalidArgument for unknown keys, wrong value
  // types, files without a config, a malformed config (protobuf's message)
  // or one naming another model, and unsafe file keys. Every failure says
  // "failed to load 'M'" (Triton's words).
  Status load_model(std::string_view name, const std::vector<LoadParameter>& parameters = {});
  Status unload_model(std::string_view name) { return manager_.unload(name); }

  // Checks the request against the model's (completed) config: every input
  // present (unless optional), known names, dtypes and shapes (batch dim
  // within max_batch_size), requested outputs known, scheduling parameters
  // (request_options). Then hands it to the model's scheduler and, when it
  // ran, applies the classification extension. `done` is called exactly
  // once, maybe before infer_async returns, maybe on an execution thread;
  // it must not block. Failures count in the model's statistics.
  void infer_async(InferRequest request, InferDone done);
  // infer_async and wait.
  Result<InferResponse> infer(const InferRequest& request);

  ModelManager& manager() { return manager_; }
  // The system shared memory regions clients registered (Triton's
  // systemsharedmemory extension), shared by both frontends. Outputs that
  // requests ask for in shared memory (RequestedOutput::shared_memory) are
  // written there by infer_async once the model ran.
  SharedMemoryRegistry& shared_memory() { return shared_memory_; }

 private:
  Status load_model_as_asked(std::string_view name, const std::vector<LoadParameter>& parameters);
  ModelManager& manager_;
  std::atomic<bool> ready_{true};
  SharedMemoryRegistry shared_memory_;
};

}  // namespace polaris
