// The optimized-model cache: ORT writes the graph it optimised
// (SetOptimizedModelFilePath); a later load of the same model with the same
// ORT version, level, provider and kind of CPU reads that file and skips
// optimisation.
//
// Entries are keyed by the model's content hash (sha256). So that a load
// never pays for hashing or writing, both happen off the load path:
// - a persistent index maps a file's identity (real path, size, mtime, inode)
//   to its content hash, so a restarted server finds an entry with one stat
//   (core/content_hash.h; <dir>/index, shared with the provider choice);
// - on a miss the model loads normally and the entry is written by a
//   background thread (hash the file, build a second session that saves the
//   optimised graph, publish by atomic rename). That costs one extra
//   optimisation's CPU and memory, once per model and machine.
// Thread-safety: all methods are thread-safe; concurrent writers of one entry
// are deduplicated, and readers never see a half-written file.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/content_hash.h"
#include "core/status.h"

namespace polaris::ort {

class OptimizedModelCache {
 public:
  // `dir`: e.g. <cache_dir>/ort-optimized; `ort_version` goes into every
  // key; `warn` reports writes that failed (the host's log).
  OptimizedModelCache(std::string dir, std::string ort_version,
                      std::function<void(const std::string&)> warn = nullptr);
  ~OptimizedModelCache();  // waits for background writes
  OptimizedModelCache(const OptimizedModelCache&) = delete;
  OptimizedModelCache& operator=(const OptimizedModelCache&) = delete;

  struct Hit {
    std::string optimized_path;
    std::string content_hash;
  };
  // The entry for this model, if its content hash is already indexed and the
  // entry exists. Costs a stat and two small file reads; never reads the model.
  std::optional<Hit> lookup(const std::string& model_path, const std::string& level, const std::string& provider);

  // Writes the entry in the background. `save(tmp_path)` must build a session
  // of the model that saves its optimised graph to tmp_path.
  void write_in_background(const std::string& model_path, const std::string& level, const std::string& provider,
                           std::function<void(const std::string& tmp_path)> save);

  // Deletes an entry that turned out damaged (a lookup's optimized_path).
  void remove(const std::string& entry_path);

  // Blocks until no background write is running (tests, shutdown).
  void wait_idle();

 private:
  std::string entry_name(const std::string& content_hash, const std::string& level, const std::string& provider) const;
  void report(const std::string& message) const;
  std::string dir_;
  ContentHashIndex index_;  // <dir>/index
  std::string ort_version_;
  std::function<void(const std::string&)> warn_;
  std::mutex mu_;
  std::set<std::string> in_flight_;    // guarded by mu_: model|level|provider
  std::vector<std::thread> workers_;   // guarded by mu_
};

}  // namespace polaris::ort
