#include "runtime/model_manager.h"

#include <future>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/process_memory.h"
#include "core/thread_name.h"
#include "runtime/model_loader.h"
#include "runtime/model_manager_internal.h"
#include "runtime/provider_choice.h"
#include "runtime/triton_messages.h"
#include "runtime/model_repository.h"

namespace polaris {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace {

constexpr uint64_t kUnlimited = UINT64_MAX;
constexpr auto kBackgroundTick = std::chrono::milliseconds(250);
// How long a load waits for busy models to become evictable.
constexpr auto kRoomWait = std::chrono::seconds(30);
// While loading, freed memory at the heap's top goes back at once (glibc's
// default trim threshold): a load's temporaries must not stay resident.
constexpr std::size_t kLoadTrimThreshold = 128 * 1024;

}  // namespace

// ---------------------------------------------------------------- names

Result<ControlMode> parse_control_mode(std::string_view text) {
  if (text == "none") return ControlMode::kNone;
  if (text == "explicit") return ControlMode::kExplicit;
  if (text == "poll") return ControlMode::kPoll;
  if (text == "lazy") return ControlMode::kLazy;
  return InvalidArgument("model control mode '" + std::string(text) + "' is not one of none, explicit, poll, lazy");
}

std::string_view to_string(ControlMode mode) {
  switch (mode) {
    case ControlMode::kNone: return "none";
    case ControlMode::kExplicit: return "explicit";
    case ControlMode::kPoll: return "poll";
    case ControlMode::kLazy: return "lazy";
  }
  return "?";
}

std::string_view to_string(ModelState state) {
  switch (state) {
    case ModelState::kUnavailable: return "UNAVAILABLE";
    case ModelState::kLoading: return "LOADING";
    case ModelState::kReady: return "READY";
    case ModelState::kUnloading: return "UNLOADING";
  }
  return "?";
}

uint64_t default_cpu_memory_limit() { return system_memory_bytes() / 4 * 3; }

// ---------------------------------------------------------------- handle

ModelHandle::ModelHandle(ModelManager* manager, std::shared_ptr<LoadedModel> model)
    : manager_(manager), model_(std::move(model)) {}
ModelHandle::ModelHandle(ModelHandle&& other) noexcept
    : manager_(std::exchange(other.manager_, nullptr)), model_(std::move(other.model_)) {}
ModelHandle& ModelHandle::operator=(ModelHandle&& other) noexcept {
  if (this != &other) {
    release();
    manager_ = std::exchange(other.manager_, nullptr);
    model_ = std::move(other.model_);
  }
  return *this;
}
ModelHandle::~ModelHandle() { release(); }

void ModelHandle::release() {
  if (manager_ != nullptr && model_) manager_->release_handle(model_);
  manager_ = nullptr;
  model_.reset();
}

const std::string& ModelHandle::name() const { return model_->name; }
int64_t ModelHandle::version() const { return model_->version; }
const ModelMetadata& ModelHandle::metadata() const { return model_->metadata; }
const inference::ModelConfig& ModelHandle::config() const { return model_->config; }
ModelStatistics& ModelHandle::statistics() const { return *model_->stats; }
Model& ModelHandle::model() const { return *model_->model; }

void ModelHandle::submit(InferJob job) { model_->scheduler->submit(std::move(job)); }

Result<NamedTensors> ModelHandle::run(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs,
                                      RequestOptions options) {
  std::promise<Result<NamedTensors>> promise;
  auto future = promise.get_future();
  submit({inputs, requested_outputs, std::move(options),
          [&promise](Result<NamedTensors> result) { promise.set_value(std::move(result)); }});
  return future.get();
}

SchedulerStatus ModelHandle::scheduler_status() const { return model_->scheduler->status(); }

void ModelManager::release_handle(std::shared_ptr<LoadedModel>& model) {
  std::lock_guard lock(mu_);
  if (Slot* slot = find_slot_locked(model->name, model->version)) {
    slot->last_used = Clock::now();
    slot->last_used_wall = std::chrono::system_clock::now();
  }
  --model->in_flight;
  model.reset();  // never the last reference: an unloader holds one until in_flight is 0
  changed_.notify_all();
}

// ---------------------------------------------------------------- life

ModelManager::ModelManager(ManagerOptions options, BackendRegistry& registry)
    : options_(std::move(options)), registry_(registry),
      pool_(std::make_unique<ExecutionPool>(options_.execution_threads)),
      measured_sizes_(cache_root(registry.config()).empty()
                          ? ""
                          : (fs::path(cache_root(registry.config())) / "measured-memory").string()) {
  if (options_.load_mmap_threshold > 0) set_serving_thresholds();
  tracker_.set_budget("cpu", default_cpu_memory_limit());
  for (const auto& [device, bytes] : options_.memory_limits) tracker_.set_budget(device, bytes);
}

Result<std::unique_ptr<ModelManager>> ModelManager::create(ManagerOptions options, BackendRegistry& registry) {
  std::unique_ptr<ModelManager> manager(new ModelManager(std::move(options), registry));
  const ManagerOptions& o = manager->options_;
  if (!o.repository.empty()) POLARIS_RETURN_IF_ERROR(manager->sync_repository(std::nullopt, false));
  spdlog::info("model manager: mode {}, {} models listed, cpu budget {}{}", to_string(o.mode),
               manager->entries_.size(), format_byte_size(manager->tracker_.budget("cpu")),
               o.max_models ? fmt::format(", at most {} models", *o.max_models) : "");

  std::vector<std::string> to_load;
  if (o.mode == ControlMode::kNone || o.mode == ControlMode::kPoll) {
    for (const auto& [name, entry] : manager->entries_) to_load.push_back(name);
  } else if (o.mode == ControlMode::kExplicit) {
    for (const std::string& name : o.startup_models) {
      if (name != "*") {
        to_load.push_back(name);
        continue;
      }
      for (const auto& [listed, entry] : manager->entries_) to_load.push_back(listed);
    }
  }
  for (const std::string& name : to_load) {
    Status s = manager->load(name);
    if (!s.ok()) spdlog::error("model '{}' did not load at start: {}", name, s.message());
  }
  manager->background_ = std::thread([m = manager.get()] {
    name_this_thread("polaris-manager");
    m->background_loop();
  });
  return manager;
}

ModelManager::~ModelManager() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  stop_.notify_all();
  if (background_.joinable()) background_.join();
  std::vector<std::pair<std::string, int64_t>> loaded;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, entry] : entries_)
      for (const auto& [version, slot] : entry->versions) loaded.emplace_back(name, version);
  }
  for (const auto& [name, version] : loaded) (void)unload_version(name, version, "server stopping", false);
}

void ModelManager::background_loop() {
  auto next_poll = Clock::now() + options_.poll_interval;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // Its own condition variable: `changed_` fires on every request's end,
    // and waking this thread for each one cost more than the request.
    stop_.wait_for(lock, kBackgroundTick);
    if (stopping_) break;
    lock.unlock();
    expire_idle_models();
    if (options_.mode == ControlMode::kPoll && Clock::now() >= next_poll) {
      Status s = poll_now();
      if (!s.ok()) spdlog::error("repository poll failed: {}", s.message());
      next_poll = Clock::now() + options_.poll_interval;
    }
    lock.lock();
  }
}

void ModelManager::set_serving_thresholds() const {
  // Trim at twice the mmap threshold, as glibc's dynamic mode does.
  set_malloc_thresholds(options_.serving_mmap_threshold, 2 * options_.serving_mmap_threshold);
}

// ---------------------------------------------------------------- lookup

ModelManager::Entry* ModelManager::find_entry_locked(std::string_view name) {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.get();
}

ModelManager::Slot* ModelManager::find_slot_locked(std::string_view name, int64_t version) {
  Entry* entry = find_entry_locked(name);
  if (entry == nullptr) return nullptr;
  auto it = entry->versions.find(version);
  return it == entry->versions.end() ? nullptr : &it->second;
}

bool ModelManager::is_pinned(const Entry& entry) const {
  if (auto it = pin_overrides_.find(entry.name); it != pin_overrides_.end()) return it->second;
  return entry.policy.pinned || std::find(options_.pinned_models.begin(), options_.pinned_models.end(),
                                          entry.name) != options_.pinned_models.end();
}

Status ModelManager::set_pinned(std::string_view name, bool pinned) {
  std::lock_guard lock(mu_);
  if (find_entry_locked(name) == nullptr) return triton::unknown_model(name);
  pin_overrides_.insert_or_assign(std::string(name), pinned);
  spdlog::info("model '{}': {}", name, pinned ? "pinned" : "unpinned");
  changed_.notify_all();
  return Status::Ok();
}

bool ModelManager::wait_until_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return !busy_locked(); });
}

bool ModelManager::busy_locked() const {
  for (const auto& [name, entry] : entries_)
    for (const auto& [version, slot] : entry->versions)
      if ((slot.current && slot.current->in_flight > 0) || slot.state == ModelState::kUnloading) return true;
  return false;
}

uint64_t ModelManager::budget_locked(const std::string& device) const {
  return tracker_.has_budget(device) ? tracker_.budget(device) : kUnlimited;
}

// ---------------------------------------------------------------- acquire

Result<ModelHandle> ModelManager::acquire(std::string_view name, int64_t version) {
  POLARIS_RETURN_IF_ERROR(validate_model_name(name));
  std::unique_lock lock(mu_);
  if (find_entry_locked(name) == nullptr && options_.mode == ControlMode::kLazy && !options_.repository.empty()) {
    lock.unlock();  // a folder added since the last scan
    POLARIS_RETURN_IF_ERROR(sync_repository(name, false));
    lock.lock();
  }
  for (;;) {
    Entry* entry = find_entry_locked(name);
    if (entry == nullptr) return triton::unknown_model(name);
    if (!entry->status.ok())
      return FailedPrecondition("model '" + entry->name + "' is not available: " + entry->status.message());
    if (entry->versions.empty()) return FailedPrecondition("model '" + entry->name + "' has no version to serve");
    // No version asked: the latest ready one, so a version that is still
    // loading (poll mode) never stalls traffic the previous one can serve.
    int64_t wanted = version;
    if (wanted <= 0) {
      wanted = entry->versions.rbegin()->first;
      for (auto it = entry->versions.rbegin(); it != entry->versions.rend(); ++it)
        if (it->second.state == ModelState::kReady) {
          wanted = it->first;
          break;
        }
    }
    Slot* slot = find_slot_locked(name, wanted);
    if (slot == nullptr)
      return triton::unknown_version(entry->name, wanted);

    switch (slot->state) {
      case ModelState::kReady: {
        ++slot->current->in_flight;
        slot->last_used = Clock::now();
        slot->last_used_wall = std::chrono::system_clock::now();
        return ModelHandle(this, slot->current);
      }
      case ModelState::kLoading:
      case ModelState::kUnloading:
        changed_.wait(lock);  // then look again: the slot may have changed or gone
        continue;
      case ModelState::kUnavailable:
        break;
    }
    const std::string label = fmt::format("model '{}' version {}", entry->name, wanted);
    if (slot->failure)  // the request is fine; the model is broken
      return triton::load_failed(entry->name, wanted, FailedPrecondition(slot->failure->message()));
    const bool may_autoload = options_.autoload && (options_.mode == ControlMode::kLazy || slot->evicted);
    if (!may_autoload)
      return Unavailable(label + " is not loaded" + (slot->reason.empty() ? "" : " (" + slot->reason + ")"));
    lock.unlock();
    Status loaded = load_version(entry->name, wanted, false);
    // Budget errors go back as they are; a broken model is reported from
    // its slot on the next turn, the same way for every request.
    if (loaded.code() == StatusCode::kResourceExhausted || loaded.code() == StatusCode::kUnavailable) return loaded;
    lock.lock();
  }
}

// ---------------------------------------------------------------- load

Status ModelManager::load(std::string_view name) {
  POLARIS_RETURN_IF_ERROR(validate_model_name(name));
  std::lock_guard control(control_mu_);
  bool overridden = false;
  {
    std::lock_guard lock(mu_);
    Entry* entry = find_entry_locked(name);
    if (entry != nullptr && !entry->from_repository) {
      // Added by path: nothing to re-read, just make sure it is loaded.
      for (auto& [version, slot] : entry->versions) slot.failure.reset();
    }
    overridden = entry != nullptr && entry->overridden;
  }
  if (overridden) {
    // A plain load goes back to the repository (as Triton's does): the
    // sync below then sees a changed config and files, and reloads.
    POLARIS_ASSIGN_OR_RETURN(std::optional<RepositoryModel> listed,
                             options_.repository.empty() ? std::optional<RepositoryModel>()
                                                         : scan_repository_model(options_.repository, name));
    if (!listed)
      return NotFound("model '" + std::string(name) +
                      "' is not in the repository; it keeps the config and files of its last load request "
                      "(send them again to reload it, or unload it)");
    std::lock_guard lock(mu_);
    if (Entry* entry = find_entry_locked(name)) {
      entry->overridden = false;
      entry->override_files.reset();  // loaded instances keep the files until they go
    }
  }
  if (!options_.repository.empty()) POLARIS_RETURN_IF_ERROR(sync_repository(name, true));
  return load_all_versions(std::string(name));
}

Status ModelManager::load_all_versions(const std::string& name) {
  std::vector<int64_t> versions;
  {
    std::lock_guard lock(mu_);
    Entry* entry = find_entry_locked(name);
    if (entry == nullptr) return triton::unknown_model(name);
    if (!entry->status.ok()) return FailedPrecondition("model '" + name + "' cannot load: " + entry->status.message());
    for (auto& [version, slot] : entry->versions) versions.push_back(version);
  }
  Status first_error;
  for (int64_t version : versions) {
    Status s = load_version(name, version, false);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

Result<std::vector<ModelManager::Victim>> ModelManager::plan_room_locked(const std::string& device, uint64_t bytes,
                                                                          const std::string& name,
                                                                          const LoadedModel* keep,
                                                                          bool count_new_model) {
  std::vector<ResidentModel> resident;
  std::map<std::string, std::pair<std::string, int64_t>> slot_of;
  for (const auto& [entry_name, entry] : entries_) {
    const bool pinned = is_pinned(*entry);
    for (const auto& [version, slot] : entry->versions) {
      if (!slot.current) continue;
      // Busy or changing slots are never candidates; they still count.
      const bool movable = slot.state == ModelState::kReady && slot.current.get() != keep;
      resident.push_back({slot.current->id, slot.current->device, slot.current->bytes, pinned || !movable,
                          slot.current->in_flight, slot.last_used});
      slot_of[slot.current->id] = {entry_name, version};
    }
  }
  auto plan =
      plan_eviction(resident, device, budget_locked(device), bytes, count_new_model ? options_.max_models : std::nullopt,
                    name);
  if (!plan.ok()) return plan.status();
  std::vector<Victim> victims;
  for (const std::string& id : plan->victims) {
    const auto& [victim_name, victim_version] = slot_of.at(id);
    Slot* slot = find_slot_locked(victim_name, victim_version);
    slot->state = ModelState::kUnloading;  // no new requests; it was idle
    victims.push_back({victim_name, victim_version, slot->current});
  }
  if (!victims.empty()) changed_.notify_all();
  return victims;
}

void ModelManager::evict(std::vector<Victim> victims, const std::string& reason) {
  if (victims.empty()) return;
  const bool keep_alive = reason.rfind("idle", 0) == 0;
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const Victim& v : victims) {
      ids.push_back(v.model->id);
      if (Slot* slot = find_slot_locked(v.name, v.version)) slot->current.reset();
    }
  }
  for (Victim& v : victims) {
    spdlog::info("unloading model '{}' version {} ({}): {}", v.name, v.version, format_byte_size(v.model->bytes),
                 reason);
    v.model.reset();  // the last reference: the engine frees the model here
  }
  release_free_memory();
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < victims.size(); ++i) {
    tracker_.release(ids[i]);
    if (Slot* slot = find_slot_locked(victims[i].name, victims[i].version)) {
      slot->state = ModelState::kUnavailable;
      slot->reason = reason;
      slot->evicted = true;
      ++slot->evictions;
    }
    ++(keep_alive ? counters_.keep_alive_unloads : counters_.evictions);
  }
  changed_.notify_all();
}

Status ModelManager::load_version(const std::string& name, int64_t version, bool reload, bool check) {
  std::unique_lock lock(mu_);
  for (;;) {
    Slot* slot = find_slot_locked(name, version);
    if (slot == nullptr) return triton::unknown_version(name, version);
    if (slot->state == ModelState::kLoading || slot->state == ModelState::kUnloading) {
      changed_.wait(lock);  // someone else is at work: share the outcome
      continue;
    }
    if (slot->state == ModelState::kReady && !reload) return Status::Ok();
    if (slot->state != ModelState::kReady) reload = false;  // nothing to keep serving
    break;
  }
  Entry* entry = find_entry_locked(name);
  Slot* slot = find_slot_locked(name, version);
  if (!reload) {
    slot->state = ModelState::kLoading;
    slot->reason.clear();
    changed_.notify_all();
  }
  InstanceRequest request{name,
                          slot->path,
                          entry->dir,
                          entry->config,
                          entry->has_config,
                          options_.load_defaults,
                          options_.warmup,
                          entry->overridden ? "the load request's config" : "config.pbtxt",
                          check};
  std::shared_ptr<const OverrideFiles> files = entry->override_files;  // on disk while the instance lives
  const std::string label = fmt::format("model '{}' version {}", name, version);
  lock.unlock();

  std::lock_guard load_lock(load_mu_);
  lock.lock();
  const std::string id = fmt::format("{}:{}#{}", name, version, next_instance_id_++);
  std::shared_ptr<LoadedModel> previous = reload ? find_slot_locked(name, version)->current : nullptr;

  // Ends the load with `error`: the slot reports it; non-budget errors stick
  // until the file changes or someone loads explicitly.
  auto fail = [&](Status error) {
    tracker_.release(id);
    ++counters_.load_failures;
    if (Slot* s = find_slot_locked(name, version)) {
      if (reload) {
        s->reason = "reload failed, the previous file keeps serving: " + error.message();
      } else {
        s->state = ModelState::kUnavailable;
        s->reason = error.message();
        if (error.code() != StatusCode::kResourceExhausted && error.code() != StatusCode::kUnavailable)
          s->failure = error;
      }
    }
    changed_.notify_all();
    spdlog::error("{} failed to load: {}", label, error.message());
    return triton::load_failed(name, version, error);
  };

  lock.unlock();
  auto backend = backend_for_model(registry_, request.path, request.config);
  lock.lock();
  if (!backend.ok()) return fail(backend.status());
  std::error_code ec;
  const uint64_t file_size = fs::file_size(request.path, ec);
  if (ec) return fail(NotFound("model file " + request.path + " cannot be read: " + ec.message()));
  // An earlier load's measurement when there is one, else the estimate.
  const std::string signature = load_signature(**backend, request, registry_.config().threads);
  const std::optional<uint64_t> measured_before = measured_sizes_.lookup(request.path, signature);
  const uint64_t predicted = measured_before.value_or((*backend)->predict_memory_bytes(file_size));
  find_slot_locked(name, version)->predicted_bytes = predicted;

  // Room for the prediction (on the CPU until the provider is known).
  auto victims = plan_room_locked("cpu", predicted, name, previous.get(), !reload);
  // Room held by requests in flight frees up when they finish: wait for it
  // rather than fail the request that needs this model.
  const auto give_up = Clock::now() + kRoomWait;
  while (!victims.ok() && victims.status().code() == StatusCode::kResourceExhausted && busy_locked() &&
         Clock::now() < give_up) {
    changed_.wait_for(lock, 100ms);
    victims = plan_room_locked("cpu", predicted, name, previous.get(), !reload);
  }
  if (!victims.ok()) return fail(victims.status());
  lock.unlock();
  evict(std::move(*victims), "evicted (least recently used) to make room for '" + name + "'");
  lock.lock();
  if (!tracker_.has_budget("cpu")) tracker_.set_budget("cpu", kUnlimited);
  if (Status s = tracker_.reserve(id, "cpu", predicted); !s.ok()) return fail(s);
  lock.unlock();

  spdlog::info("loading {} from {} (predicted {}{})", label, request.path, format_byte_size(predicted),
               measured_before ? ", as an earlier load measured" : " from the file size");
  if (options_.load_mmap_threshold > 0)  // see ManagerOptions::load_mmap_threshold
    set_malloc_thresholds(options_.load_mmap_threshold, kLoadTrimThreshold);
  auto instance = load_model_instance(registry_, request);
  if (options_.load_mmap_threshold > 0) set_serving_thresholds();

  if (instance.ok() && instance->device == "cpu")
    measured_sizes_.record(request.path, signature, instance->measured_bytes);
  lock.lock();
  if (!instance.ok()) return fail(instance.status());
  tracker_.release(id);
  // The measurement replaces the prediction; evict more if it is larger.
  auto more = plan_room_locked(instance->device, instance->measured_bytes, name, previous.get(), false);
  if (!more.ok()) {
    lock.unlock();
    instance->model.reset();
    release_free_memory();
    lock.lock();
    return fail(ResourceExhausted(fmt::format("{} measured {} after loading and was unloaded again: {}", label,
                                              format_byte_size(instance->measured_bytes), more.status().message())));
  }
  if (!more->empty()) {
    lock.unlock();
    evict(std::move(*more), "evicted (least recently used): '" + name + "' needed more than predicted");
    lock.lock();
  }
  if (!tracker_.has_budget(instance->device)) tracker_.set_budget(instance->device, kUnlimited);
  if (Status s = tracker_.reserve(id, instance->device, instance->measured_bytes); !s.ok()) return fail(s);

  Slot* done = find_slot_locked(name, version);
  if (done == nullptr) {  // removed from the repository meanwhile
    tracker_.release(id);
    lock.unlock();
    instance->model.reset();
    return NotFound(label + " was removed while loading");
  }
  if (reload && done->state != ModelState::kReady) {
    // Unloaded or evicted while this reload ran (a poll's reload does not
    // hold control_mu_): the unload stands. Installing this instance would
    // bring the model back after its unload returned, or mark the slot
    // ready while the unload clears its instance.
    tracker_.release(id);
    spdlog::info("{} was unloaded while it reloaded: the new instance is dropped", label);
    lock.unlock();  // the instance goes (with `instance`) outside the lock
    return Status::Ok();
  }
  auto loaded = std::make_shared<LoadedModel>();
  loaded->files = std::move(files);
  loaded->name = name;
  loaded->version = version;
  loaded->id = id;
  loaded->model = std::move(instance->model);
  loaded->extra_instances = std::move(instance->extra_instances);
  loaded->metadata = std::move(instance->metadata);
  loaded->config = std::move(instance->config);
  loaded->engine = instance->engine;
  loaded->device = instance->device;
  loaded->bytes = instance->measured_bytes;
  loaded->stats = done->stats;
  std::vector<Model*> instances{loaded->model.get()};
  for (const auto& extra : loaded->extra_instances) instances.push_back(extra.get());
  auto scheduler = make_scheduler(std::move(instances), loaded->config, request.model_dir, *loaded->stats, *pool_);
  if (!scheduler.ok()) {
    lock.unlock();
    loaded.reset();
    lock.lock();
    return fail(InvalidArgument(request.config_source + " of '" + name + "': " + scheduler.status().message()));
  }
  loaded->scheduler = std::move(*scheduler);
  done->current = loaded;
  done->state = ModelState::kReady;
  done->evicted = false;
  done->failure.reset();
  done->reason.clear();
  done->last_used = Clock::now();  // just loaded: not the first to go
  done->last_load_duration = instance->load_duration;
  ++done->loads;
  ++(reload ? counters_.reloads : counters_.loads);
  changed_.notify_all();
  spdlog::info("{} {} in {} ms: {} on {}, provider {}", label, reload ? "reloaded" : "ready",
               instance->load_duration.count(), format_byte_size(loaded->bytes), loaded->device,
               loaded->metadata.provider);
  if (previous) {
    // The previous file's instance finishes its requests, then goes.
    changed_.wait(lock, [&] { return previous->in_flight == 0; });
    tracker_.release(previous->id);
    lock.unlock();
    previous.reset();
    release_free_memory();
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- unload

Status ModelManager::unload(std::string_view name) {
  POLARIS_RETURN_IF_ERROR(validate_model_name(name));
  std::lock_guard control(control_mu_);
  const std::string model(name);
  bool overridden = false;
  {
    std::lock_guard lock(mu_);
    Entry* entry = find_entry_locked(name);
    overridden = entry != nullptr && entry->overridden;
    // Requests (lazy mode, autoload) must not load the override again while
    // it goes; drop_override sets the status anew.
    if (overridden) entry->status = Unavailable("model '" + model + "' is being unloaded");
  }
  Status unloaded = unload_all_versions(model, "unloaded by request");
  if (overridden) POLARIS_RETURN_IF_ERROR(drop_override(model));
  return unloaded;
}

Status ModelManager::unload_all_versions(const std::string& name, const std::string& reason) {
  std::vector<int64_t> versions;
  {
    std::lock_guard lock(mu_);
    Entry* entry = find_entry_locked(name);
    if (entry == nullptr) return triton::unknown_model(name);
    for (auto& [version, slot] : entry->versions) versions.push_back(version);
  }
  for (int64_t version : versions) POLARIS_RETURN_IF_ERROR(unload_version(name, version, reason, false));
  return Status::Ok();
}

Status ModelManager::unload_version(const std::string& name, int64_t version, const std::string& reason,
                                    bool evicted) {
  std::unique_lock lock(mu_);
  for (;;) {
    Slot* slot = find_slot_locked(name, version);
    if (slot == nullptr) return triton::unknown_version(name, version);
    if (slot->state == ModelState::kLoading || slot->state == ModelState::kUnloading) {
      changed_.wait(lock);
      continue;
    }
    if (slot->state == ModelState::kUnavailable) return Status::Ok();
    break;
  }
  Slot* slot = find_slot_locked(name, version);
  slot->state = ModelState::kUnloading;
  changed_.notify_all();
  std::shared_ptr<LoadedModel> model = slot->current;
  changed_.wait(lock, [&] { return model->in_flight == 0; });  // requests in flight finish first
  const std::string id = model->id;
  find_slot_locked(name, version)->current.reset();
  lock.unlock();
  spdlog::info("unloading model '{}' version {}: {}", name, version, reason);
  model.reset();  // the last reference: the engine frees the model here
  release_free_memory();
  lock.lock();
  tracker_.release(id);
  if (Slot* s = find_slot_locked(name, version)) {
    s->state = ModelState::kUnavailable;
    s->reason = reason;
    s->evicted = evicted;
  }
  ++counters_.unloads;
  changed_.notify_all();
  return Status::Ok();
}

void ModelManager::expire_idle_models() {
  std::vector<Victim> victims;
  {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    for (const auto& [name, entry] : entries_) {
      if (entry->policy.keep_alive.count() <= 0 || is_pinned(*entry)) continue;
      for (auto& [version, slot] : entry->versions) {
        if (slot.state != ModelState::kReady || slot.current->in_flight > 0 ||
            now - slot.last_used < entry->policy.keep_alive)
          continue;
        slot.state = ModelState::kUnloading;
        victims.push_back({name, version, slot.current});
      }
    }
    if (!victims.empty()) changed_.notify_all();
  }
  evict(std::move(victims), "idle for longer than its keep_alive");
}

}  // namespace polaris
