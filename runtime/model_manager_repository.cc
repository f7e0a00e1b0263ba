// ModelManager, part two: models added by path, the repository
// synchronisation (lazy listing, poll mode, explicit loads) and the reports
// (index, memory, counters, statistics). Part one is model_manager.cc.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "runtime/model_manager.h"
#include "runtime/model_manager_internal.h"
#include "runtime/model_repository.h"
#include "runtime/triton_messages.h"

namespace polaris {

namespace fs = std::filesystem;

namespace {

std::string config_path(const std::string& dir) { return (fs::path(dir) / "config.pbtxt").string(); }

}  // namespace

FileSignature signature_of(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<uint64_t>(st.st_size), st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec,
          static_cast<uint64_t>(st.st_ino)};
}

// ---------------------------------------------------------------- added models

Status ModelManager::add_model(const std::string& name, const std::string& path, inference::ModelConfig config,
                               const std::string& model_dir) {
  POLARIS_RETURN_IF_ERROR(validate_model_name(name));
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return NotFound("model file '" + path + "' does not exist");
  {
    std::lock_guard lock(mu_);
    if (find_entry_locked(name) != nullptr)
      return Status(StatusCode::kAlreadyExists, "a model named '" + name + "' is already listed");
    auto entry = std::make_unique<Entry>();
    entry->name = name;
    entry->dir = model_dir.empty() ? fs::path(path).parent_path().string() : model_dir;
    entry->from_repository = false;
    entry->has_config = config.ByteSizeLong() > 0;
    auto policy = model_policy(config, options_.default_policy);
    if (!policy.ok()) return policy.status();
    entry->policy = *policy;
    entry->config = std::move(config);
    Slot& slot = entry->versions[1];
    slot.version = 1;
    slot.path = path;
    slot.file = signature_of(path);
    entries_[name] = std::move(entry);
  }
  Status loaded = load_version(name, 1, false);
  if (!loaded.ok()) {
    std::lock_guard lock(mu_);
    entries_.erase(name);  // a failed add leaves nothing behind
  }
  return loaded;
}

Status ModelManager::remove_model(std::string_view name) {
  POLARIS_RETURN_IF_ERROR(unload(name));
  std::lock_guard lock(mu_);
  Entry* entry = find_entry_locked(name);
  if (entry != nullptr && !entry->from_repository) entries_.erase(entries_.find(name));
  return Status::Ok();
}

Result<uint64_t> ModelManager::predict_load_bytes(const std::string& name, const std::string& path,
                                                  const inference::ModelConfig& config) {
  std::error_code ec;
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) return NotFound("model file '" + path + "' cannot be read: " + ec.message());
  POLARIS_ASSIGN_OR_RETURN(Backend * backend, backend_for_model(registry_, path, config));
  // The request load_version builds for a model added by path, so that the
  // signature (and with it an earlier measurement) is the same.
  const InstanceRequest request{name, path, fs::path(path).parent_path().string(), config,
                                config.ByteSizeLong() > 0, options_.load_defaults, options_.warmup};
  const std::optional<uint64_t> measured =
      measured_sizes_.lookup(path, load_signature(*backend, request, registry_.config().threads));
  return measured.value_or(backend->predict_memory_bytes(file_size));
}

// ---------------------------------------------------------------- repository

Status ModelManager::poll_now() { return sync_repository(std::nullopt, true); }

Status ModelManager::sync_repository(std::optional<std::string_view> only_model, bool load_changes) {
  if (options_.repository.empty()) return Status::Ok();
  std::vector<RepositoryModel> scanned;
  if (only_model) {
    POLARIS_ASSIGN_OR_RETURN(std::optional<RepositoryModel> one,
                             scan_repository_model(options_.repository, *only_model));
    if (one) scanned.push_back(std::move(*one));
  } else {
    POLARIS_ASSIGN_OR_RETURN(scanned, scan_repository(options_.repository));
  }
  // to_retire: versions the version policy no longer picks (a newer one
  // came) while the model stays; they go only once another version serves.
  std::vector<std::pair<std::string, int64_t>> to_load, to_reload, to_remove, to_retire;
  {
    std::lock_guard lock(mu_);
    for (const RepositoryModel& m : scanned) {
      Entry* entry = find_entry_locked(m.name);
      if (entry != nullptr && !entry->from_repository) continue;  // a model added by path keeps its name
      // Loaded with a request's config or files: the repository takes over
      // again only at the next plain load or unload, never behind the
      // client's back (poll mode would otherwise revert it at once).
      if (entry != nullptr && entry->overridden) continue;
      const bool is_new = entry == nullptr;
      if (is_new) {
        auto fresh = std::make_unique<Entry>();
        fresh->name = m.name;
        entry = fresh.get();
        entries_[m.name] = std::move(fresh);
      }
      const FileSignature config_file = signature_of(m.has_config ? config_path(m.dir) : "");
      const bool config_changed = !is_new && (config_file != entry->config_file || m.has_config != entry->has_config);
      entry->dir = m.dir;
      entry->has_config = m.has_config;
      entry->config = m.config;
      entry->config_file = config_file;
      entry->status = m.status;
      if (auto policy = model_policy(m.config, options_.default_policy); policy.ok())
        entry->policy = *policy;
      else if (entry->status.ok())
        entry->status = policy.status();

      for (auto& [version, slot] : entry->versions) {
        const bool kept = std::any_of(m.versions.begin(), m.versions.end(),
                                      [v = version](const ModelVersionFile& f) { return f.version == v; });
        if (!kept) (load_changes ? to_retire : to_remove).emplace_back(m.name, version);
      }
      for (const ModelVersionFile& file : m.versions) {
        auto [it, added] = entry->versions.try_emplace(file.version);
        Slot& slot = it->second;
        const FileSignature signature = signature_of(file.path);
        const bool changed = !added && (signature != slot.file || file.path != slot.path || config_changed);
        // A loaded version keeps its old signature until it is reloaded, so
        // a listing refresh never hides a change from a later load.
        if (changed && !load_changes && slot.state != ModelState::kUnavailable) continue;
        slot.version = file.version;
        slot.path = file.path;
        slot.file = signature;
        if (changed) slot.failure.reset();  // a fixed file deserves a new try
        if (!load_changes) continue;
        if (added || (slot.state == ModelState::kUnavailable && changed))
          to_load.emplace_back(m.name, file.version);
        else if (changed && slot.state != ModelState::kUnavailable)
          to_reload.emplace_back(m.name, file.version);
      }
    }
    if (!only_model || scanned.empty()) {
      for (const auto& [name, entry] : entries_) {
        if (!entry->from_repository || entry->overridden || (only_model && name != *only_model)) continue;
        const bool still_there = std::any_of(scanned.begin(), scanned.end(),
                                             [&n = name](const RepositoryModel& m) { return m.name == n; });
        if (!still_there)
          for (const auto& [version, slot] : entry->versions) to_remove.emplace_back(name, version);
        if (!still_there && entry->versions.empty()) to_remove.emplace_back(name, 0);
      }
    }
  }

  // New and changed versions first, so traffic moves to them before the
  // removed ones go.
  const bool check = options_.mode == ControlMode::kPoll && options_.check_polled_versions;
  for (const auto& [name, version] : to_load) (void)load_version(name, version, false, check);
  for (const auto& [name, version] : to_reload) (void)load_version(name, version, true, check);
  {
    // A bad deploy (the new version fails to load) must not take the model
    // down: a retired version that still serves stays until another one
    // of its model is ready.
    std::lock_guard lock(mu_);
    auto retiring = [&](const std::string& name, int64_t version) {
      return std::find(to_retire.begin(), to_retire.end(), std::make_pair(name, version)) != to_retire.end();
    };
    for (const auto& [name, version] : to_retire) {
      Entry* entry = find_entry_locked(name);
      Slot* slot = find_slot_locked(name, version);
      if (entry == nullptr || slot == nullptr) continue;
      const bool another_serves =
          std::any_of(entry->versions.begin(), entry->versions.end(), [&, n = name, mine = version](const auto& v) {
            return v.first != mine && v.second.state == ModelState::kReady && !retiring(n, v.first);
          });
      if (slot->state == ModelState::kReady && !another_serves) {
        constexpr const char* kKept = "kept serving: no newer version of the model loaded";
        if (slot->reason != kKept)  // once, not at every poll
          spdlog::warn("model '{}' version {} keeps serving: the version meant to replace it is not ready", name,
                       version);
        slot->reason = kKept;
        continue;
      }
      to_remove.emplace_back(name, version);
    }
  }
  for (const auto& [name, version] : to_remove) {
    if (version != 0) (void)unload_version(name, version, "removed from the repository", false);
    std::lock_guard lock(mu_);
    Entry* entry = find_entry_locked(name);
    if (entry == nullptr) continue;
    auto slot = entry->versions.find(version);
    if (slot != entry->versions.end() && slot->second.state == ModelState::kUnavailable) entry->versions.erase(slot);
    const bool listed = std::any_of(scanned.begin(), scanned.end(), [&n = name](const auto& m) { return m.name == n; });
    if (!listed && entry->versions.empty()) entries_.erase(entries_.find(name));
    spdlog::info("model '{}' version {} removed from the repository", name, version);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- reports

std::vector<ModelVersionStatus> ModelManager::index() {
  if (options_.mode == ControlMode::kLazy) {
    Status s = sync_repository(std::nullopt, false);
    if (!s.ok()) spdlog::warn("repository scan failed: {}", s.message());
  }
  return status();
}

std::vector<ModelVersionStatus> ModelManager::status(std::string_view only_model) const {
  std::lock_guard lock(mu_);
  std::vector<ModelVersionStatus> rows;
  for (const auto& [name, entry] : entries_) {
    if (!only_model.empty() && name != only_model) continue;
    if (!entry->status.ok() || entry->versions.empty()) {
      ModelVersionStatus row;
      row.name = name;
      row.reason = entry->status.ok() ? "no version to serve" : entry->status.message();
      rows.push_back(std::move(row));
      continue;
    }
    for (const auto& [version, slot] : entry->versions) {
      ModelVersionStatus row;
      row.name = name;
      row.version = version;
      row.state = slot.state;
      row.reason = slot.state == ModelState::kUnavailable && slot.reason.empty() ? "not loaded" : slot.reason;
      row.path = slot.path;
      row.pinned = is_pinned(*entry);
      row.keep_alive = entry->policy.keep_alive;
      row.predicted_bytes = slot.predicted_bytes;
      row.last_used = slot.last_used_wall;
      row.last_load_duration = slot.last_load_duration;
      row.loads = slot.loads;
      row.evictions = slot.evictions;
      if (slot.current) {
        row.engine = slot.current->engine;
        row.provider = slot.current->metadata.provider;
        row.device = slot.current->device;
        row.resident_bytes = slot.current->bytes;
        row.in_flight = slot.current->in_flight;
        if (slot.current->scheduler) row.scheduler = slot.current->scheduler->status();
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::vector<DeviceMemory> ModelManager::memory() const {
  std::lock_guard lock(mu_);
  std::vector<DeviceMemory> devices;
  for (const std::string& device : tracker_.devices())
    devices.push_back({device, budget_locked(device), tracker_.used(device)});
  return devices;
}

ManagerCounters ModelManager::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

Result<std::vector<ModelManager::VersionStatistics>> ModelManager::statistics(std::string_view name) const {
  std::lock_guard lock(mu_);
  if (!name.empty() && entries_.find(name) == entries_.end())
    return triton::unknown_model(name);
  std::vector<VersionStatistics> out;
  for (const auto& [entry_name, entry] : entries_) {
    if (!name.empty() && entry_name != name) continue;
    for (const auto& [version, slot] : entry->versions) out.push_back({entry_name, version, slot.stats->snapshot()});
  }
  return out;
}

}  // namespace polaris
