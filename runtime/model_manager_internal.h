// ModelManager's private types, shared by its two source files
// (model_manager.cc: requests, loads, unloads; model_manager_repository.cc:
// the repository, added models, reports). Not part of the public API.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "runtime/model_manager.h"
#include "runtime/model_scheduler.h"

namespace polaris {

// Identifies a file's content cheaply: a replaced or rewritten file changes
// at least one of these.
struct FileSignature {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  bool operator==(const FileSignature&) const = default;
};

// All zero when the file is missing or `path` is empty.
FileSignature signature_of(const std::string& path);

// One loaded instance of a model version. Reloads create a new one while
// the old one finishes its requests.
struct LoadedModel {
  // A load request's files this instance was loaded from (null: the
  // repository's): they stay on disk while it lives. Declared first:
  // destroyed last, after the engine let go of them.
  std::shared_ptr<const OverrideFiles> files;
  std::string name;
  int64_t version = 0;
  std::string id;  // unique per load: the MemoryTracker key
  std::unique_ptr<Model> model;
  ModelMetadata metadata;
  inference::ModelConfig config;
  std::string engine;  // Backend::name()
  std::string device;
  uint64_t bytes = 0;
  std::shared_ptr<ModelStatistics> stats;
  int in_flight = 0;  // guarded by the manager's mu_
  std::vector<std::unique_ptr<Model>> extra_instances;  // instance_group counts beyond the first
  // Declared last: destroyed first, before the instances it runs on.
  std::unique_ptr<ModelScheduler> scheduler;
};

struct ModelManager::Slot {
  int64_t version = 0;
  std::string path;
  FileSignature file;
  ModelState state = ModelState::kUnavailable;
  std::string reason;
  // A load error that requests do not retry (the file is broken); cleared
  // when the file changes or on an explicit load. Budget errors are not
  // kept: the model may fit later.
  std::optional<Status> failure;
  bool evicted = false;  // unloaded by the budget or keep-alive: autoload
  std::shared_ptr<LoadedModel> current;
  std::chrono::steady_clock::time_point last_used{};
  std::optional<std::chrono::system_clock::time_point> last_used_wall;
  std::shared_ptr<ModelStatistics> stats = std::make_shared<ModelStatistics>();
  uint64_t predicted_bytes = 0;
  uint64_t loads = 0;
  uint64_t evictions = 0;
  std::chrono::milliseconds last_load_duration{0};
};

struct ModelManager::Entry {
  std::string name;
  std::string dir;
  bool from_repository = true;
  bool has_config = false;
  inference::ModelConfig config;
  FileSignature config_file;
  Status status;  // why the model cannot be served at all (broken config...)
  ModelPolicy policy;
  // Loaded with an override (ModelManager::load(name, LoadOverride)): the
  // config, and the files when `override_files` is set, came from a
  // request, so repository scans leave this entry alone.
  bool overridden = false;
  std::shared_ptr<const OverrideFiles> override_files;
  std::map<int64_t, Slot> versions;
};

struct ModelManager::Victim {
  std::string name;
  int64_t version = 0;
  std::shared_ptr<LoadedModel> model;
};

}  // namespace polaris
