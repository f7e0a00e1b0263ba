// What loading a model measured, kept so that the next load of the same file
// with the same settings is admitted by that measurement instead of the
// backend's estimate from the file size. The estimate cannot be exact: a
// model's activations and the engine's arenas do not scale with its file
// (ResNet50 holds 1.2x its file on ONNX Runtime, EfficientNet-B0 2.8x).
//
// Keyed by the file's identity (core/content_hash.h: real path, size, mtime,
// inode) and a load signature (engine and version, the model's config, the
// load options, engine threads, warm-up): a changed file or setting is
// measured again. Kept in memory and, given a folder, as one small file per
// key (<cache root>/measured-memory/), so a restarted server knows too. Only
// CPU measurements are kept: the prediction reserves on the CPU because the
// provider is not known before the load.
// Thread-safety: all methods are thread-safe; files are published by atomic
// rename, so a reader never sees half of one.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "backends/backend.h"
#include "runtime/model_loader.h"

namespace polaris {

class MeasuredSizes {
 public:
  explicit MeasuredSizes(std::string dir);  // empty: this process only

  // The bytes a load of this file with this signature measured; nullopt when
  // never measured (or the file changed since).
  std::optional<uint64_t> lookup(const std::string& path, const std::string& signature) const;
  void record(const std::string& path, const std::string& signature, uint64_t bytes);

 private:
  std::optional<std::string> key_of(const std::string& path, const std::string& signature) const;

  std::string dir_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, uint64_t> known_;  // key -> bytes (read from files on demand)
};

// What a load's memory depends on besides the file, as one string.
std::string load_signature(const Backend& backend, const InstanceRequest& request, const EngineThreads& threads);

}  // namespace polaris
