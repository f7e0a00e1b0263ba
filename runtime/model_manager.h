// ModelManager: which models are loaded, when they load and unload, and the
// memory they hold. The seed's MultiModelServer core, shared by the CLI,
// the network server and the C++ facade (multi_model_server.h).
//
// Models come from a Triton-layout repository (model_repository.h) and/or
// are added by path. Each model version is a slot with a state
// (UNAVAILABLE, LOADING, READY, UNLOADING, Triton's names). Requests hold a
// ModelHandle; while any handle is alive the model is never unloaded:
// unload and eviction wait for in-flight requests, and requests arriving
// during a load or unload wait for its outcome instead of failing.
//
// Control modes (Triton's, plus Polaris's default `lazy`):
//   none      load every model at start;
//   explicit  load/unload only when asked (API, CLI, --load-model);
//   poll      like none, then re-scan every poll interval: load new models
//             and versions, unload removed ones, reload changed files while
//             the old instance keeps serving;
//   lazy      list every model, load each on its first request.
// In every mode a model evicted by the memory budget or its keep-alive is
// reloaded on its next request (unless autoload is off: then 503).
//
// Memory: a budget per device (MemoryTracker). Before a load the backend's
// prediction is reserved, evicting idle unpinned models least recently used
// first (plan_eviction); after it the measurement replaces the prediction,
// and a model that turns out not to fit is unloaded again with both
// numbers. Loads run one at a time so the RSS measurement is the model's.
//
// Thread-safety: every public method is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "backends/registry.h"
#include "core/status.h"
#include "proto/model_config.pb.h"
#include "runtime/measured_sizes.h"
#include "runtime/memory_budget.h"
#include "runtime/model_override.h"
#include "runtime/model_policy.h"
#include "runtime/model_scheduler.h"
#include "runtime/execution_pool.h"
#include "runtime/model_statistics.h"

namespace polaris {

enum class ControlMode { kNone, kExplicit, kPoll, kLazy };
Result<ControlMode> parse_control_mode(std::string_view text);  // "none" "explicit" "poll" "lazy"
std::string_view to_string(ControlMode mode);

enum class ModelState { kUnavailable, kLoading, kReady, kUnloading };
std::string_view to_string(ModelState state);  // "UNAVAILABLE", ...

// The default CPU budget: 75% of the memory this process may use (machine
// or cgroup limit), leaving the rest to the OS, the server and requests.
uint64_t default_cpu_memory_limit();

struct ManagerOptions {
  std::string repository;  // empty: only models added by path
  ControlMode mode = ControlMode::kLazy;
  std::vector<std::string> startup_models;  // explicit mode: loaded at start; "*" = all
  // Budget per memory device ("cpu", "gpu:0"); cpu defaults to
  // default_cpu_memory_limit(); a device without a budget is not limited.
  std::map<std::string, uint64_t> memory_limits;
  std::optional<std::size_t> max_models;  // resident model versions at most
  ModelPolicy default_policy;             // keep-alive and pinning for every model
  std::vector<std::string> pinned_models;  // pinned whatever their config says
  bool autoload = true;  // false: requests for an unloaded model get 503
  std::chrono::milliseconds poll_interval{15000};
  // Threads that run engine executions for all models (ExecutionPool);
  // 0: default_execution_threads() (2).
  int execution_threads = 0;
  bool warmup = true;
  // Poll mode: a new or changed version passes `polaris validate`'s checks
  // (generated inputs, output shapes, no NaN/Inf) before it serves; one
  // that fails is refused and the serving version stays.
  bool check_polled_versions = true;
  LoadOptions load_defaults;  // providers and optimisation level
  // glibc's mmap threshold (set_malloc_thresholds; process-wide) while a
  // model loads and warms up: its weights and first buffers then each get
  // their own mapping, which its unload hands back whole. Between loads it
  // is `serving_mmap_threshold` (trim threshold twice that), so requests'
  // temporaries come from the reused heap (a 1 MiB threshold there made
  // libtorch inference 1.4-1.65x slower: docs/performance.md). 0: leave
  // glibc's default (dynamic) thresholds.
  std::size_t load_mmap_threshold = std::size_t{1} << 20;
  std::size_t serving_mmap_threshold = std::size_t{32} << 20;
};

// One row of the repository index.
struct ModelVersionStatus {
  std::string name;
  int64_t version = 0;  // 0: the model has no usable version (see reason)
  ModelState state = ModelState::kUnavailable;
  std::string reason;  // why not ready: a load error, "evicted ...", ...
  std::string path;
  std::string engine;    // the backend that loaded it ("onnxruntime", ...), while loaded
  std::string provider;
  std::string device;
  uint64_t resident_bytes = 0;   // measured, while loaded
  uint64_t predicted_bytes = 0;  // reserved before the last load: an earlier load's measurement, else the estimate
  bool pinned = false;
  std::chrono::milliseconds keep_alive{0};  // unloaded after this long idle; 0: never
  int in_flight = 0;
  SchedulerStatus scheduler;  // queue, instances, live sequences (while loaded)
  std::optional<std::chrono::system_clock::time_point> last_used;
  std::chrono::milliseconds last_load_duration{0};
  uint64_t loads = 0;
  uint64_t evictions = 0;
};

struct DeviceMemory {
  std::string device;
  uint64_t budget = 0;  // UINT64_MAX: unlimited
  uint64_t used = 0;    // accounted (measured sizes of resident models)
};

struct ManagerCounters {
  uint64_t loads = 0;
  uint64_t load_failures = 0;
  uint64_t unloads = 0;
  uint64_t evictions = 0;         // for memory or the model count
  uint64_t keep_alive_unloads = 0;
  uint64_t reloads = 0;           // poll mode: changed files
};

// What a load request may replace (Triton's load parameters "config" and
// "file:<version>/<name>"): the model's config and, optionally, its whole
// folder. See ModelManager::load(name, LoadOverride).
struct LoadOverride {
  // In place of config.pbtxt, with the same checks and completion. Its
  // name, if set, must be the model's.
  inference::ModelConfig config;
  // The model's folder, written from the request; null: the repository's
  // folder (only the config is replaced).
  std::shared_ptr<const OverrideFiles> files;
};

class ModelManager;
struct LoadedModel;

// A request's hold on one loaded model version. While it lives the model
// stays loaded. Move-only; cheap.
class ModelHandle {
 public:
  ModelHandle() = default;
  ModelHandle(ModelHandle&& other) noexcept;
  ModelHandle& operator=(ModelHandle&& other) noexcept;
  ~ModelHandle();

  const std::string& name() const;
  int64_t version() const;
  const ModelMetadata& metadata() const;
  const inference::ModelConfig& config() const;  // completed
  // Hands a request to the model's scheduler (model_scheduler.h); `done`
  // is called exactly once. The handle must outlive the call of `done`:
  // keep it (moved) until then.
  void submit(InferJob job);
  // submit() and wait: one request, start to end, statistics recorded.
  Result<NamedTensors> run(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs = {},
                           RequestOptions options = {});
  SchedulerStatus scheduler_status() const;
  ModelStatistics& statistics() const;
  Model& model() const;  // the engine model, for schedulers

 private:
  friend class ModelManager;
  ModelHandle(ModelManager* manager, std::shared_ptr<LoadedModel> model);
  void release();
  ModelManager* manager_ = nullptr;
  std::shared_ptr<LoadedModel> model_;
};

class ModelManager {
 public:
  // Scans the repository (if any), starts the background thread (keep-alive
  // and polling) and loads what the mode loads at start. Load failures are
  // logged and listed in the index; only an unreadable repository fails.
  static Result<std::unique_ptr<ModelManager>> create(ManagerOptions options, BackendRegistry& registry);
  ~ModelManager();  // stops the thread, waits for requests, unloads all
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // A hold on `name` (version 0: the latest), loading it first if the mode
  // allows. NotFound for unknown models/versions; Unavailable when not loaded
  // and not loadable now; the load's error when a load fails.
  Result<ModelHandle> acquire(std::string_view name, int64_t version = 0);

  // Loads every version of a model (re-reading it from the repository;
  // changed files are reloaded). Allowed in every mode. A model loaded with
  // an override goes back to the repository's config and files (reloaded,
  // the override's instance serving until then); NotFound, and the override
  // kept, when the repository has no such model.
  Status load(std::string_view name);
  // Loads (or reloads) the model with `override`'s config instead of
  // config.pbtxt and, when it has files, from that folder instead of the
  // repository's, so the model need not be in the repository. The override
  // sticks, through evictions and reloads, until the next load or unload of
  // the model; repository scans (lazy listing, poll mode) leave the model
  // alone meanwhile. If a version fails to load, the model is left as it
  // was before the call (a new model is forgotten) and the error returned.
  // InvalidArgument when the config does not fit the folder (name, version
  // policy, missing model file); AlreadyExists for a model added by path.
  Status load(std::string_view name, LoadOverride override);
  // Unloads every version, waiting for in-flight requests. The model stays
  // listed; in lazy mode its next request loads it again. A model loaded
  // with an override loses it (its files are deleted once no request uses
  // them): it is listed as the repository has it, or not at all.
  Status unload(std::string_view name);
  // Adds a model file outside the repository as version 1 and loads it.
  // AlreadyExists when the name is taken. `model_dir`: the folder whose
  // warmup/ holds the config's warm-up data files (default: the file's).
  Status add_model(const std::string& name, const std::string& path, inference::ModelConfig config = {},
                   const std::string& model_dir = "");
  // Unloads and forgets a model added by path (repository models: unload).
  Status remove_model(std::string_view name);
  // What a load of `path` (as add_model(name, path, config) would load it)
  // reserves before loading: an earlier load's measurement of the same
  // file and settings, else the backend's estimate from the file size.
  // Loads no model (it may load the engine's module).
  Result<uint64_t> predict_load_bytes(const std::string& name, const std::string& path,
                                      const inference::ModelConfig& config = {});
  // Pins (never evicted, never unloaded for idleness) or unpins a model
  // from now on, whatever its config and ManagerOptions::pinned_models say,
  // until the next call for it or the end of the process. NotFound for a
  // model that is not listed.
  Status set_pinned(std::string_view name, bool pinned);

  // Every model and version, sorted by name then version. In lazy mode the
  // repository is re-read first, so new folders appear.
  std::vector<ModelVersionStatus> index();
  // The same rows as known now, without reading the repository (for
  // per-request paths: readiness, metadata, metrics); one model or all.
  std::vector<ModelVersionStatus> status(std::string_view only_model = "") const;
  // One repository synchronisation, as the poll thread does it.
  Status poll_now();
  std::vector<DeviceMemory> memory() const;
  ManagerCounters counters() const;
  // Waits until no request holds a model (every execution finished and
  // answered) or `timeout` passes; true when idle. For shutdown.
  bool wait_until_idle(std::chrono::milliseconds timeout);
  // Statistics of the loaded or once-loaded versions of `name` (all models
  // when empty), by version.
  struct VersionStatistics {
    std::string name;
    int64_t version;
    StatisticsSnapshot stats;
  };
  Result<std::vector<VersionStatistics>> statistics(std::string_view name = "") const;
  const ManagerOptions& options() const { return options_; }
  BackendRegistry& registry() { return registry_; }

 private:
  struct Slot;
  struct Entry;
  struct Victim;
  friend class ModelHandle;

  ModelManager(ManagerOptions options, BackendRegistry& registry);

  // Repository synchronisation: `load_changes` loads new versions and
  // reloads changed files (poll mode, explicit load); otherwise only the
  // listing and the files of unloaded versions are refreshed (lazy).
  Status sync_repository(std::optional<std::string_view> only_model, bool load_changes);
  // `check`: the checks of runtime/model_check.h before it serves.
  Status load_version(const std::string& name, int64_t version, bool reload, bool check = false);
  Status unload_version(const std::string& name, int64_t version, const std::string& reason, bool evicted);
  Status load_all_versions(const std::string& name);
  // Drops `name`'s override (under control_mu_): relists it from the
  // repository, or forgets it when the repository has no such model.
  Status drop_override(const std::string& name);
  Status unload_all_versions(const std::string& name, const std::string& reason);

  // Under mu_: what must go so `bytes` fit on `device`; marks victims
  // UNLOADING. `keep` is never chosen.
  Result<std::vector<Victim>> plan_room_locked(const std::string& device, uint64_t bytes, const std::string& name,
                                               const LoadedModel* keep, bool count_new_model);
  // Not under mu_: destroys the victims (marked UNLOADING and idle), then
  // accounts for them; they reload on their next request.
  void evict(std::vector<Victim> victims, const std::string& reason);
  void release_handle(std::shared_ptr<LoadedModel>& model);
  void background_loop();
  void expire_idle_models();
  uint64_t budget_locked(const std::string& device) const;
  bool busy_locked() const;
  void set_serving_thresholds() const;  // a request or an unload in progress may free room
  bool is_pinned(const Entry& entry) const;  // requires mu_

  Entry* find_entry_locked(std::string_view name);
  Slot* find_slot_locked(std::string_view name, int64_t version);

  const ManagerOptions options_;
  BackendRegistry& registry_;
  // Before the models in entries_: destroyed after them (schedulers post here).
  std::unique_ptr<ExecutionPool> pool_;
  // Earlier loads' measurements: the next load of the same file and settings
  // reserves exactly that (thread-safe on its own).
  MeasuredSizes measured_sizes_;

  // Held for a whole load(), unload(): an override and the load or unload
  // that replaces it never interleave (taken before load_mu_ and mu_).
  std::mutex control_mu_;
  std::mutex load_mu_;  // held for a whole load: loads run one at a time (taken before mu_)
  mutable std::mutex mu_;
  std::condition_variable changed_;  // any slot state or in-flight count changed
  std::condition_variable stop_;     // wakes the background thread to stop
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries_;  // guarded by mu_
  MemoryTracker tracker_;                                               // guarded by mu_
  ManagerCounters counters_;                                            // guarded by mu_
  std::map<std::string, bool, std::less<>> pin_overrides_;             // set_pinned; guarded by mu_
  uint64_t next_instance_id_ = 1;                                       // guarded by mu_
  bool stopping_ = false;                                               // guarded by mu_
  std::thread background_;
};

}  // namespace polaris
