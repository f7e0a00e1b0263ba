// The ONNX Runtime backend: one Ort::Env with global thread pools shared by
// every session, provider selection with fallback, the optimized-model cache.
#include <onnxruntime_cxx_api.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "backends/backend.h"
#include "backends/onnxruntime/ort_cache.h"
#include "backends/onnxruntime/ort_metadata.h"
#include "backends/onnxruntime/ort_model.h"
#include "backends/onnxruntime/ort_providers.h"
#include "core/process_memory.h"

namespace polaris::ort {
namespace {

namespace fs = std::filesystem;

// What a session holds after load and warm-up: the weights (about the file)
// plus the activation arena, which depends on the graph, not the file.
// Measured with `polaris serve --threads 1` (docs/performance.md, "Memory
// prediction"): ResNet50 1.18x its file, MobileNetV2 2.0x, EfficientNet-Lite0
// 1.8x, EfficientNet-B0 2.75x, small models 1-11 MiB. 1.15x + 12 MiB is within
// 10% for the first three and under for EfficientNet-B0; the model manager
// uses a model's own measurement from its second load on
// (runtime/measured_sizes.h).
constexpr double kMemoryFactor = 1.15;
constexpr uint64_t kMemoryOverhead = 12ull << 20;

GraphOptimizationLevel to_ort_level(OptimizationLevel level) {
  switch (level) {
    case OptimizationLevel::kDisable: return ORT_DISABLE_ALL;
    case OptimizationLevel::kBasic: return ORT_ENABLE_BASIC;
    case OptimizationLevel::kExtended: return ORT_ENABLE_EXTENDED;
    case OptimizationLevel::kAll: return ORT_ENABLE_ALL;
  }
  return ORT_ENABLE_ALL;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

class OrtBackend final : public Backend {
 public:
  explicit OrtBackend(const BackendConfig& config) : config_(config), env_(make_env(config.threads)) {
    available_ = Ort::GetAvailableProviders();
    if (!config_.cache_dir.empty())
      cache_ = std::make_unique<OptimizedModelCache>((fs::path(config_.cache_dir) / "ort-optimized").string(),
                                                     engine_version(),
                                                     [this](const std::string& m) { warn_host(config_, m); });
  }

  std::string_view name() const override { return "onnxruntime"; }
  std::string engine_version() const override { return Ort::GetVersionString(); }
  std::vector<std::string> available_providers() const override { return available_; }
  uint64_t predict_memory_bytes(uint64_t file_size) const override {
    return static_cast<uint64_t>(static_cast<double>(file_size) * kMemoryFactor) + kMemoryOverhead;
  }

  Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& options) override {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) return NotFound("cannot read model file '" + path + "': " + ec.message());
    if (size == 0) return InvalidArgument("model file '" + path + "' is empty");

    ModelMetadata metadata = base_metadata(path, "onnx", size, predict_memory_bytes(size), options);
    metadata.extra_info["optimization"] = std::string(to_string(options.optimization_level));
    metadata.extra_info["ort_version"] = engine_version();

    const std::vector<std::string> requested = requested_providers(options);
    POLARIS_ASSIGN_OR_RETURN(const ProviderOptions gpu_options, provider_options(requested, options.parameters));
    std::vector<std::string> skipped;
    const auto plan = provider_plan(requested, available_, skipped);
    std::vector<std::string> failures = skipped;
    for (const auto& provider : plan) {
      if (requested.empty()) {
        // Auto mode remembers providers that cannot start on this machine,
        // so only the first load pays for finding out.
        std::lock_guard lock(mu_);
        if (auto it = broken_providers_.find(provider); it != broken_providers_.end()) {
          failures.push_back(provider + ": " + it->second);
          continue;
        }
      }
      auto session = create_session(path, provider, options, gpu_options, metadata);
      if (session.ok()) {
        metadata.provider = provider;
        if (provider != "CPUExecutionProvider" && provider != "WebGpuExecutionProvider") {
          metadata.extra_info["device_id"] = std::to_string(gpu_options.device_id);
          if (gpu_options.gpu_mem_limit > 0) metadata.extra_info["gpu_mem_limit"] = std::to_string(gpu_options.gpu_mem_limit);
        }
        if (!failures.empty()) metadata.extra_info["provider_fallback"] = join(failures, "; ");
        POLARIS_RETURN_IF_ERROR(read_session_metadata(**session, metadata).with_context(path));
        return std::unique_ptr<Model>(new OrtModel(std::move(session).value(), std::move(metadata)));
      }
      if (provider == "CPUExecutionProvider") {
        if (failures.empty()) return session.status();
        return session.status().with_context("(after " + join(failures, "; ") + ")");
      }
      failures.push_back(provider + ": " + session.status().message());
      if (requested.empty() && session.status().code() == StatusCode::kUnavailable) {
        std::lock_guard lock(mu_);
        broken_providers_[provider] = session.status().message();
      }
    }
    return Internal("no execution provider could load '" + path + "': " + join(failures, "; "));
  }

 private:
  static Ort::Env make_env(const EngineThreads& threads) {
    // ONNX Runtime's own Linux build (1.30) carries telemetry: unless
    // ORT_DISABLE_TELEMETRY is set when the first environment is created,
    // it starts a thread and an event database under
    // ~/.cache/Microsoft/DeveloperTools/.onnxruntime for upload
    // (DisableTelemetryEvents() afterwards stops neither). Polaris serves
    // offline sites and sends nothing anywhere: off, unless the operator set
    // the variable. docs/runtime.md, "ONNX Runtime's telemetry".
    setenv("ORT_DISABLE_TELEMETRY", "1", /*overwrite=*/0);
    // Global thread pools: every session shares these two pools, so loading
    // ten models never creates ten pools (each session calls
    // DisablePerSessionThreads).
    Ort::ThreadingOptions threading;
    const int cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    threading.SetGlobalIntraOpNumThreads(threads.intra_op > 0 ? threads.intra_op : cores);
    threading.SetGlobalInterOpNumThreads(threads.inter_op > 0 ? threads.inter_op : 1);
    threading.SetGlobalSpinControl(threads.allow_spinning ? 1 : 0);
    Ort::Env env(threading, ORT_LOGGING_LEVEL_WARNING, "polaris");
    env.DisableTelemetryEvents();
    return env;
  }

  Result<std::unique_ptr<Ort::Session>> create_session(const std::string& path, const std::string& provider,
                                                       const LoadOptions& options, const ProviderOptions& gpu_options,
                                                       ModelMetadata& metadata) {
    try {
      Ort::SessionOptions so;
      so.DisablePerSessionThreads();
      so.SetGraphOptimizationLevel(to_ort_level(options.optimization_level));
      if (auto it = options.parameters.find("ort.cpu_arena"); it != options.parameters.end() && it->second == "0")
        so.DisableCpuMemArena();
      try {
        append_provider(so, provider, gpu_options);
      } catch (const Ort::Exception& e) {
        // The provider itself cannot start here (missing library or device):
        // Unavailable, which auto mode remembers.
        return Unavailable(provider_failure_reason(provider, e.what()));
      }

      // The optimized-model cache, CPU only: providers that compile nodes
      // cannot save their graphs. Hashing and writing happen off the load
      // path (ort_cache.h).
      std::string model_path = path;
      const std::string level(to_string(options.optimization_level));
      const std::string short_provider = short_provider_name(provider);
      const bool use_cache =
          cache_ && provider == "CPUExecutionProvider" && options.optimization_level != OptimizationLevel::kDisable;
      bool write_entry = false;
      if (use_cache) {
        if (auto hit = cache_->lookup(path, level, short_provider)) {
          model_path = hit->optimized_path;
          so.SetGraphOptimizationLevel(ORT_DISABLE_ALL);  // already optimised
          metadata.extra_info["optimized_cache"] = "hit";
          metadata.extra_info["content_sha256"] = hit->content_hash;
        } else {
          metadata.extra_info["optimized_cache"] = "miss (written in the background)";
          write_entry = true;
        }
      }

      const uint64_t rss_before = process_rss_bytes();
      std::unique_ptr<Ort::Session> session;
      try {
        session = std::make_unique<Ort::Session>(env_, model_path.c_str(), so);
      } catch (const Ort::Exception& e) {
        if (model_path == path) throw;
        // A cache entry that does not load (damaged on disk): it goes, and
        // the model loads from its own file, optimised as on a miss.
        warn_host(config_, "the optimized-model cache entry " + model_path + " does not load (" + e.what() +
                               "): removed; loading " + path + " itself");
        cache_->remove(model_path);
        so.SetGraphOptimizationLevel(to_ort_level(options.optimization_level));
        metadata.extra_info["optimized_cache"] = "bad entry removed (written again in the background)";
        metadata.extra_info.erase("content_sha256");
        model_path = path;
        write_entry = true;
        session = std::make_unique<Ort::Session>(env_, model_path.c_str(), so);
      }
      const uint64_t rss_after = process_rss_bytes();
      metadata.measured_memory_bytes = rss_after > rss_before ? rss_after - rss_before : 0;
      if (write_entry) {
        cache_->write_in_background(path, level, short_provider,
                                    [this, path, options = std::make_shared<Ort::SessionOptions>(so.Clone())](
                                        const std::string& tmp) {
                                      options->SetOptimizedModelFilePath(tmp.c_str());
                                      Ort::Session saver(env_, path.c_str(), *options);
                                    });
      }
      return session;
    } catch (const Ort::Exception& e) {
      return Status(e.GetOrtErrorCode() == ORT_NO_SUCHFILE ? StatusCode::kNotFound : StatusCode::kInvalidArgument,
                    "ONNX Runtime cannot load '" + path + "' with " + provider + ": " + e.what());
    } catch (const std::exception& e) {
      return Internal("loading '" + path + "' with " + provider + ": " + e.what());
    }
  }

  BackendConfig config_;
  Ort::Env env_;
  std::vector<std::string> available_;
  std::mutex mu_;
  std::map<std::string, std::string> broken_providers_;  // guarded by mu_
  // Declared after env_: destroyed first, after its background writes
  // (which use env_) have finished.
  std::unique_ptr<OptimizedModelCache> cache_;
};

}  // namespace
}  // namespace polaris::ort

extern "C" __attribute__((visibility("default"))) polaris::Backend* polaris_create_backend(
    int abi_version, const polaris::BackendConfig* config, std::string* error) {
  return polaris::create_backend_checked(abi_version, config, error, "ONNX Runtime",
                                         [](const polaris::BackendConfig& c) { return new polaris::ort::OrtBackend(c); });
}
