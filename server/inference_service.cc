#include "server/inference_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "core/build_info.h"
#include "core/class_scores.h"
#include "core/content_hash.h"
#include "core/quote.h"
#include "runtime/model_config.h"
#include "runtime/model_override.h"
#include "runtime/model_repository.h"
#include "runtime/request_validation.h"
#include "runtime/triton_messages.h"
#include "server/shared_memory_io.h"

namespace polaris {

namespace fs = std::filesystem;

namespace {

// The extensions Polaris implements, as the server metadata lists them
// (perf_analyzer fetches statistics only when "statistics" is listed).
// Only what is served: system shared memory, not CUDA shared memory.
const std::vector<std::string> kExtensions = {"classification", "model_repository", "schedule_policy",
                                              "model_configuration", "binary_tensor_data", "parameters",
                                              "statistics", "sequence", "system_shared_memory"};

std::vector<int64_t> metadata_shape(const google::protobuf::RepeatedField<int64_t>& dims, int max_batch_size) {
  std::vector<int64_t> shape;
  if (max_batch_size > 0) shape.push_back(-1);
  shape.insert(shape.end(), dims.begin(), dims.end());
  return shape;
}

template <typename ConfigTensor>
TensorMetadataView tensor_view(const ConfigTensor& t, int max_batch_size) {
  return {t.name(), std::string(to_string(from_config_data_type(t.data_type()))),
          metadata_shape(t.dims(), max_batch_size)};
}

// Labels of an output's label_filename, read again whenever the file
// changes (its identity: size, mtime, inode), so a model reloaded with new
// labels answers with them. One entry per labels file the repository has.
std::vector<std::string> labels_for(const inference::ModelConfig& config, const std::string& output,
                                    const std::string& model_path) {
  struct Cached {
    std::string identity;
    std::vector<std::string> labels;
  };
  static std::mutex mu;
  static std::map<std::string, Cached> cache;
  for (const auto& o : config.output()) {
    if (o.name() != output || o.label_filename().empty()) continue;
    const std::string& file = o.label_filename();
    if (file.find('/') != std::string::npos || file == "..") return {};  // a plain name only
    // <model>/<version>/model.onnx: the labels sit in <model>/ (Triton), or
    // beside the file for a model added by path.
    const fs::path version_dir = fs::path(model_path).parent_path();
    for (const fs::path& dir : {version_dir.parent_path(), version_dir}) {
      const std::string path = (dir / file).string();
      const std::optional<std::string> identity = file_identity(path);
      std::error_code ec;
      if (!identity || !fs::is_regular_file(path, ec)) continue;
      std::lock_guard lock(mu);
      Cached& cached = cache[path];
      if (cached.identity != *identity) cached = {*identity, load_labels(path)};
      return cached.labels;
    }
  }
  return {};
}

// The classification extension: the top `k` classes of each batch row as
// "score:index[:label]" strings (Triton's format), shaped [batch, k] or [k].
Result<Tensor> classify(const Tensor& scores, uint32_t k, bool batched, const std::vector<std::string>& labels,
                        const std::string& output) {
  POLARIS_ASSIGN_OR_RETURN(int64_t count, scores.shape().element_count());
  const int64_t rows = batched && scores.shape().rank() > 0 ? scores.shape()[0] : 1;
  if (rows <= 0 || count % rows != 0 || count / rows < 2)
    return InvalidArgument("output " + in_quotes(output) + " cannot be classified: it holds no class scores");
  POLARIS_ASSIGN_OR_RETURN(Tensor view, Tensor::borrow(scores.dtype(), Shape{rows, count / rows},
                                                       const_cast<void*>(scores.data()), scores.byte_size()));
  const auto top = top_k(view, static_cast<int>(std::min<uint32_t>(k, 1u << 20)), labels);
  if (top.empty())
    return InvalidArgument("output " + in_quotes(output) + " cannot be classified: only FP16, FP32 and FP64 scores can");
  std::vector<std::string> strings;
  strings.reserve(top.size());
  for (const ClassScore& s : top)
    strings.push_back(std::to_string(static_cast<float>(s.score)) + ":" + std::to_string(s.index) +
                      (s.label.empty() ? "" : ":" + s.label));
  const int64_t per_row = static_cast<int64_t>(top.size()) / rows;
  return Tensor::from_strings(batched ? Shape{rows, per_row} : Shape{per_row}, strings);
}

}  // namespace

Result<int64_t> parse_model_version(std::string_view text) {
  if (text.empty()) return int64_t{0};
  int64_t version = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size() || version < 1)
    return triton::bad_version_string(text);
  return version;
}

ServerMetadataView InferenceService::server_metadata() const {
  ServerMetadataView view{"polaris", build_info::kPolarisVersion, kExtensions};
  if (!shared_memory_.enabled()) std::erase(view.extensions, "system_shared_memory");
  return view;
}

Result<ModelMetadataView> InferenceService::model_metadata(std::string_view name, int64_t version) {
  POLARIS_ASSIGN_OR_RETURN(ModelHandle handle, manager_.acquire(name, version));
  const inference::ModelConfig& config = handle.config();
  ModelMetadataView view;
  view.name = handle.name();
  for (const auto& row : manager_.status(view.name))
    if (row.version > 0) view.versions.push_back(std::to_string(row.version));
  view.platform = !config.platform().empty() ? config.platform() : config.backend();
  for (const auto& in : config.input()) view.inputs.push_back(tensor_view(in, config.max_batch_size()));
  for (const auto& out : config.output()) view.outputs.push_back(tensor_view(out, config.max_batch_size()));
  return view;
}

Result<inference::ModelConfig> InferenceService::model_config(std::string_view name, int64_t version) {
  POLARIS_ASSIGN_OR_RETURN(ModelHandle handle, manager_.acquire(name, version));
  return handle.config();
}

Result<bool> InferenceService::model_ready(std::string_view name, int64_t version) {
  POLARIS_RETURN_IF_ERROR(validate_model_name(name));
  const ManagerOptions& options = manager_.options();
  if (options.mode == ControlMode::kLazy && options.autoload) {
    // Lazy mode serves every listed model: a readiness check loads it, as
    // its first request would, so a client that waits for readiness before
    // its first request is not kept waiting forever. A model that cannot
    // load (a broken file, no room) is not ready; an unknown one is NotFound.
    auto handle = manager_.acquire(name, version);
    if (handle.ok()) return true;
    if (handle.status().code() == StatusCode::kNotFound) return handle.status();
    return false;
  }
  bool known = false, ready = false;
  int64_t latest_ready = 0;
  const auto rows = manager_.status(name);
  for (const auto& row : rows) {
    known = true;
    if (row.state == ModelState::kReady) {
      latest_ready = std::max(latest_ready, row.version);
      if (version > 0 && row.version == version) ready = true;
    }
  }
  if (!known) return triton::unknown_model(name);
  return version > 0 ? ready : latest_ready > 0;
}

Result<std::vector<ModelManager::VersionStatistics>> InferenceService::statistics(std::string_view name,
                                                                                  int64_t version) const {
  POLARIS_ASSIGN_OR_RETURN(auto all, manager_.statistics(name));
  if (version > 0) {
    std::erase_if(all, [&](const auto& s) { return s.version != version; });
    if (all.empty())
      return triton::unknown_version(name, version);
  }
  return all;
}

namespace {

// The override a load request's parameters ask for; nullopt without any.
Result<std::optional<LoadOverride>> load_override(std::string_view name, const std::vector<LoadParameter>& parameters) {
  const LoadParameter* config_text = nullptr;
  std::vector<OverrideFiles::File> files;
  for (const LoadParameter& p : parameters) {
    if (p.key == "config") {
      if (p.kind != LoadParameter::Kind::kString)
        return InvalidArgument("load parameter 'config' must be a string (the model config as JSON), not " +
                               std::string(p.kind == LoadParameter::Kind::kBytes ? "bytes" : p.value));
      config_text = &p;
    } else if (p.key.starts_with(kOverrideFilePrefix)) {
      if (p.kind != LoadParameter::Kind::kBytes)
        return InvalidArgument("load parameter " + in_quotes(p.key) +
                               " must hold the file's bytes (HTTP: a base64 string; gRPC: bytes_param)");
      files.emplace_back(p.key, p.value);
    } else {
      return InvalidArgument("unknown load parameter " + in_quotes(p.key) +
                             ": Polaris knows 'config' and 'file:<version>/<file name>'");
    }
  }
  if (config_text == nullptr && files.empty()) return std::optional<LoadOverride>();
  // Triton's rule: the files are the whole model folder, config.pbtxt
  // included, so they come with the config that replaces it.
  if (config_text == nullptr)
    return InvalidArgument("load parameters 'file:...' need a 'config' parameter too: the files replace the whole "
                           "model folder, config.pbtxt included");
  POLARIS_RETURN_IF_ERROR(validate_model_name(name));
  LoadOverride override;
  POLARIS_ASSIGN_OR_RETURN(override.config, parse_model_config_json(config_text->value, "load parameter 'config'"));
  if (!override.config.name().empty() && override.config.name() != name)
    return InvalidArgument("load parameter 'config' names the model " + in_quotes(override.config.name()) + ", not " +
                           in_quotes(name));
  if (!files.empty()) {
    POLARIS_ASSIGN_OR_RETURN(override.files, OverrideFiles::write(name, files));
  }
  return std::optional<LoadOverride>(std::move(override));
}

}  // namespace

Status InferenceService::load_model(std::string_view name, const std::vector<LoadParameter>& parameters) {
  return triton::load_request_failed(name, load_model_as_asked(name, parameters));
}

Status InferenceService::load_model_as_asked(std::string_view name, const std::vector<LoadParameter>& parameters) {
  POLARIS_ASSIGN_OR_RETURN(std::optional<LoadOverride> override, load_override(name, parameters));
  if (!override) return manager_.load(name);
  const std::shared_ptr<const OverrideFiles> files = override->files;
  Status loaded = manager_.load(name, std::move(*override));
  if (loaded.ok() || files == nullptr) return loaded;
  // Engines name the file they failed on: the client sees it as the request
  // named it ("1/model.onnx"), not where the server keeps it.
  std::string message = loaded.message();
  for (const std::string& prefix : {files->model_dir() + "/", files->model_dir(), files->root()})
    for (std::size_t at; (at = message.find(prefix)) != std::string::npos;) message.replace(at, prefix.size(), "");
  return Status(loaded.code(), std::move(message));
}

std::vector<ModelVersionStatus> InferenceService::repository_index(bool ready_only) {
  auto rows = manager_.index();
  if (ready_only) std::erase_if(rows, [](const auto& r) { return r.state != ModelState::kReady; });
  return rows;
}

namespace {

// A request parameter as an unsigned integer (JSON numbers arrive as int64).
Result<uint64_t> unsigned_parameter(const Parameters& parameters, const std::string& key) {
  auto it = parameters.find(key);
  if (it == parameters.end()) return uint64_t{0};
  if (const auto* u = std::get_if<uint64_t>(&it->second)) return *u;
  if (const auto* i = std::get_if<int64_t>(&it->second); i != nullptr && *i >= 0) return static_cast<uint64_t>(*i);
  return InvalidArgument("request parameter " + in_quotes(key) + " must be a non-negative integer");
}

Result<bool> bool_parameter(const Parameters& parameters, const std::string& key) {
  auto it = parameters.find(key);
  if (it == parameters.end()) return false;
  if (const auto* b = std::get_if<bool>(&it->second)) return *b;
  return InvalidArgument("request parameter " + in_quotes(key) + " must be a boolean");
}

}  // namespace

Result<RequestOptions> request_options(const Parameters& parameters) {
  RequestOptions o;
  POLARIS_ASSIGN_OR_RETURN(o.priority, unsigned_parameter(parameters, "priority"));
  POLARIS_ASSIGN_OR_RETURN(uint64_t timeout_us, unsigned_parameter(parameters, "timeout"));
  // Bounded so the deadline arithmetic cannot overflow (a year is plenty).
  o.timeout = std::chrono::microseconds(std::min<uint64_t>(timeout_us, uint64_t{365} * 24 * 3600 * 1000000));
  if (auto it = parameters.find("sequence_id"); it != parameters.end()) {
    if (const auto* text = std::get_if<std::string>(&it->second)) {
      if (text->empty() || text->size() > 256)
        return InvalidArgument("request parameter 'sequence_id' must be a number or a string of 1 to 256 bytes");
      o.sequence = {*text, true};
    } else {
      POLARIS_ASSIGN_OR_RETURN(uint64_t id, unsigned_parameter(parameters, "sequence_id"));
      if (id != 0) o.sequence = {std::to_string(id), false};  // 0: no sequence, as in Triton
    }
  }
  POLARIS_ASSIGN_OR_RETURN(o.sequence_start, bool_parameter(parameters, "sequence_start"));
  POLARIS_ASSIGN_OR_RETURN(o.sequence_end, bool_parameter(parameters, "sequence_end"));
  return o;
}

namespace {

// One request between its submission and its answer: the handle keeps the
// model loaded, the request keeps the input buffers its tensors view.
struct InferCall {
  ModelHandle handle;
  InferRequest request;
  InferDone done;
};

Result<InferResponse> make_response(const InferCall& call, NamedTensors outputs) {
  const inference::ModelConfig& config = call.handle.config();
  InferResponse response;
  response.model_name = call.handle.name();
  response.model_version = std::to_string(call.handle.version());
  response.id = call.request.id;
  for (NamedTensor& out : outputs) {
    const auto asked = std::find_if(call.request.outputs.begin(), call.request.outputs.end(),
                                    [&](const RequestedOutput& r) { return r.name == out.name; });
    InferOutput result{out.name, std::move(out.tensor), call.request.binary_outputs};
    if (asked != call.request.outputs.end()) {
      result.binary = asked->binary;
      if (asked->classification > 0) {
        const auto labels = labels_for(config, out.name, call.handle.metadata().path);
        POLARIS_ASSIGN_OR_RETURN(result.tensor, classify(result.tensor, asked->classification,
                                                         config.max_batch_size() > 0, labels, out.name));
      }
      if (asked->shared_memory) {
        // The response then carries the output's metadata only.
        POLARIS_RETURN_IF_ERROR(write_to_shared_memory(result.tensor, *asked->shared_memory, out.name));
        result.shared_memory = asked->shared_memory;
      }
    }
    response.outputs.push_back(std::move(result));
  }
  return response;
}

}  // namespace

void InferenceService::infer_async(InferRequest request, InferDone done) {
  if (!ready()) return done(Unavailable("the server is shutting down"));
  auto handle = manager_.acquire(request.model_name, request.model_version);
  if (!handle.ok()) return done(handle.status());
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> names;
  for (const RequestedOutput& out : request.outputs) names.push_back(out.name);
  Status valid = validate_request(request.model_name, request.inputs, names, handle->config());
  Result<RequestOptions> options = valid.ok() ? request_options(request.parameters) : valid;
  if (!options.ok()) {
    handle->statistics().record_failure(std::chrono::steady_clock::now() - start);
    return done(options.status());
  }
  auto call = std::make_shared<InferCall>(InferCall{std::move(*handle), std::move(request), std::move(done)});
  InferJob job{call->request.inputs, std::move(names), std::move(*options),
               [call](Result<NamedTensors> outputs) {
                 call->done(outputs.ok() ? make_response(*call, std::move(*outputs))
                                         : Result<InferResponse>(outputs.status()));
               },
               call->request.run_inline};
  call->handle.submit(std::move(job));
}

Result<InferResponse> InferenceService::infer(const InferRequest& request) {
  std::promise<Result<InferResponse>> promise;
  auto answer = promise.get_future();
  infer_async(request, [&promise](Result<InferResponse> result) { promise.set_value(std::move(result)); });
  return answer.get();
}

}  // namespace polaris
