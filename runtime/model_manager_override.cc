// ModelManager, part three: loads with an override (Triton's load
// parameters "config" and "file:..."), and dropping the override again.
// Parts one and two are model_manager.cc and model_manager_repository.cc.
#include <algorithm>
#include <map>
#include <optional>

#include <spdlog/spdlog.h>

#include "runtime/model_manager.h"
#include "runtime/model_manager_internal.h"
#include "runtime/model_repository.h"

namespace polaris {
namespace {

// Where an entry's versions come from, as it was before an override: what
// a failed override load puts back.
struct SlotSource {
  std::string path;
  FileSignature file;
  std::string reason;
  std::optional<Status> failure;
  bool was_ready = false;
};

struct EntrySource {
  std::string dir;
  bool has_config = false;
  inference::ModelConfig config;
  FileSignature config_file;
  Status status;
  ModelPolicy policy;
  bool overridden = false;
  std::shared_ptr<const OverrideFiles> override_files;
  std::map<int64_t, SlotSource> versions;
};

}  // namespace

Status ModelManager::load(std::string_view name, LoadOverride override) {
  POLARIS_RETURN_IF_ERROR(validate_model_name(name));
  const std::string model(name);
  std::lock_guard control(control_mu_);

  // The folder the versions come from: the request's files, else the
  // repository's folder with the request's config in place of config.pbtxt.
  std::string dir;
  if (override.files) {
    dir = override.files->model_dir();
  } else {
    std::optional<RepositoryModel> listed;
    if (!options_.repository.empty()) {
      POLARIS_ASSIGN_OR_RETURN(listed, scan_repository_model(options_.repository, name));
    }
    if (!listed)
      return NotFound("model '" + model + "' is not in the repository: a load with only a config needs its files "
                      "there (or send them with the config)");
    dir = listed->dir;
  }
  RepositoryModel scanned = scan_model_folder(dir, name, override.config);
  if (!scanned.status.ok())
    return InvalidArgument("cannot load '" + model + "' with the given config: " + scanned.status.message());
  auto policy = model_policy(scanned.config, options_.default_policy);
  if (!policy.ok())
    return InvalidArgument("cannot load '" + model + "' with the given config: " + policy.status().message());

  // Commit the new source, remembering the old one.
  std::optional<EntrySource> before;  // nullopt: a model new to the manager
  std::vector<int64_t> versions, dropped;
  {
    std::lock_guard lock(mu_);
    Entry* entry = find_entry_locked(name);
    if (entry != nullptr && !entry->from_repository)
      return Status(StatusCode::kAlreadyExists, "model '" + model + "' was added by path; it cannot be loaded from "
                                                "a request's config or files");
    if (entry == nullptr) {
      auto fresh = std::make_unique<Entry>();
      fresh->name = model;
      entry = fresh.get();
      entries_[model] = std::move(fresh);
    } else {
      before = EntrySource{entry->dir,    entry->has_config, entry->config,     entry->config_file,
                           entry->status, entry->policy,     entry->overridden, entry->override_files,
                           {}};
      for (const auto& [version, slot] : entry->versions)
        before->versions[version] = {slot.path, slot.file, slot.reason, slot.failure,
                                     slot.state == ModelState::kReady};
    }
    entry->dir = scanned.dir;
    entry->has_config = true;  // checked against the model and completed, as a config.pbtxt
    entry->config = scanned.config;
    entry->config_file = {};  // no file: a later plain load always sees a change
    entry->status = Status::Ok();
    entry->policy = *policy;
    entry->overridden = true;
    entry->override_files = override.files;
    for (const auto& [version, slot] : entry->versions) {
      const bool kept = std::any_of(scanned.versions.begin(), scanned.versions.end(),
                                    [v = version](const ModelVersionFile& f) { return f.version == v; });
      if (!kept) dropped.push_back(version);
    }
    for (const ModelVersionFile& file : scanned.versions) {
      Slot& slot = entry->versions[file.version];
      slot.version = file.version;
      slot.path = file.path;
      slot.file = signature_of(file.path);
      slot.failure.reset();
      versions.push_back(file.version);
    }
  }
  spdlog::info("loading model '{}' with the config{} of a load request", model,
               override.files ? " and files" : "");

  // Always as a reload: a version that is serving keeps serving until its
  // replacement is ready, and one that is loading (from the old source)
  // right now is loaded again from the new one once it is done.
  Status failed;
  std::vector<int64_t> done;
  for (int64_t version : versions) {
    failed = load_version(model, version, /*reload=*/true);
    if (!failed.ok()) {
      // What failed came with the request, as in Triton (INVALID_ARG); the
      // budget's refusals keep their code (try again later).
      if (failed.code() != StatusCode::kResourceExhausted && failed.code() != StatusCode::kUnavailable)
        failed = InvalidArgument("model '" + model + "' version " + std::to_string(version) +
                                 " did not load with the request's " +
                                 (override.files ? "config and files: " : "config: ") + failed.message());
      break;
    }
    done.push_back(version);
  }
  if (failed.ok()) {
    // Versions the override does not have go once the new ones serve.
    for (int64_t version : dropped) {
      (void)unload_version(model, version, "not in the config or files of the last load request", false);
      std::lock_guard lock(mu_);
      if (Entry* entry = find_entry_locked(name)) {
        auto slot = entry->versions.find(version);
        if (slot != entry->versions.end() && slot->second.state == ModelState::kUnavailable)
          entry->versions.erase(slot);
      }
    }
    return Status::Ok();
  }

  // A version failed: put the model back as it was. Versions that loaded
  // from the override go (new ones) or are reloaded from the old source
  // (ones that served before).
  std::vector<int64_t> unload, reload;
  {
    std::lock_guard lock(mu_);
    Entry* entry = find_entry_locked(name);
    if (entry == nullptr) return failed;
    if (before) {
      entry->dir = before->dir;
      entry->has_config = before->has_config;
      entry->config = before->config;
      entry->config_file = before->config_file;
      entry->status = before->status;
      entry->policy = before->policy;
      entry->overridden = before->overridden;
      entry->override_files = before->override_files;
    }
    for (auto& [version, slot] : entry->versions) {
      const auto old = before ? before->versions.find(version) : std::map<int64_t, SlotSource>::iterator();
      const bool existed = before && old != before->versions.end();
      if (existed) {
        slot.path = old->second.path;
        slot.file = old->second.file;
        if (slot.state != ModelState::kReady) {
          slot.reason = old->second.reason;
          slot.failure = old->second.failure;
        }
      }
      const bool loaded_now = std::find(done.begin(), done.end(), version) != done.end();
      if (!existed || (loaded_now && !old->second.was_ready)) unload.push_back(version);
      else if (loaded_now) reload.push_back(version);
      else if (slot.state == ModelState::kReady) slot.reason.clear();  // "reload failed": nothing replaced it
    }
  }
  for (int64_t version : reload)
    if (Status s = load_version(model, version, /*reload=*/true); !s.ok())
      spdlog::error("model '{}' version {} could not go back to its previous files: {}", model, version, s.message());
  for (int64_t version : unload) (void)unload_version(model, version, "its load request failed", false);
  {
    std::lock_guard lock(mu_);
    Entry* entry = find_entry_locked(name);
    if (entry != nullptr) {
      if (!before) {
        bool idle = true;
        for (const auto& [version, slot] : entry->versions) idle = idle && slot.state == ModelState::kUnavailable;
        if (idle) entries_.erase(entries_.find(name));  // a failed new model leaves nothing behind
      } else {
        for (int64_t version : unload) {
          auto slot = entry->versions.find(version);
          const bool existed = before->versions.count(version) > 0;
          if (!existed && slot != entry->versions.end() && slot->second.state == ModelState::kUnavailable)
            entry->versions.erase(slot);
        }
      }
    }
  }
  return failed;
}

Status ModelManager::drop_override(const std::string& name) {
  std::optional<RepositoryModel> listed;
  if (!options_.repository.empty()) {
    auto scanned = scan_repository_model(options_.repository, name);
    if (scanned.ok()) listed = std::move(*scanned);
  }
  {
    std::lock_guard lock(mu_);
    Entry* entry = find_entry_locked(name);
    if (entry == nullptr || !entry->overridden) return Status::Ok();
    entry->overridden = false;
    entry->override_files.reset();  // deleted here unless an instance still holds it
    entry->status = Status::Ok();
    if (!listed) {
      bool idle = true;
      for (const auto& [version, slot] : entry->versions)
        idle = idle && slot.state == ModelState::kUnavailable && !slot.current;
      if (idle) {
        entries_.erase(entries_.find(name));
        spdlog::info("model '{}' (loaded from a request's files) forgotten", name);
      }
      return Status::Ok();
    }
  }
  // Listed again as the repository has it (its config and files differ
  // from the override's, so every version is refreshed).
  return sync_repository(name, false);
}

}  // namespace polaris
