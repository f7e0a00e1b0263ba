// Content hashes of model files, and a persistent index that finds a file's
// hash without reading the file.
//
// Caches keyed by what a model *is* (its bytes), not where it lives, need its
// sha256; hashing a 100 MB model costs a quarter second, too much for every
// load. The index maps a file's identity (real path, size, mtime, inode: what
// make and ccache's direct mode trust) to its content hash, one small file
// per identity, so a known file costs one stat and one small read. Users:
// ONNX Runtime's optimized-model cache (backends/onnxruntime/ort_cache.h) and
// the measured provider choice (runtime/provider_choice.h), sharing one
// index folder.
// Thread-safety: all functions are thread-safe; index files are published by
// atomic rename, so readers never see a half-written one.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"

namespace polaris {

// sha256 of a string / of a file's bytes, lowercase hex.
std::string string_sha256(const std::string& text);
Result<std::string> file_sha256(const std::string& path);

// "real path|size|mtime ns|inode|device"; nullopt when the file cannot be stat'ed.
std::optional<std::string> file_identity(const std::string& path);

// Writes `content` to `path` through a temporary file and an atomic rename;
// false (and nothing written) when that fails.
bool publish_file(const std::string& path, const std::string& content);

class ContentHashIndex {
 public:
  explicit ContentHashIndex(std::string dir);  // created on first write

  // The indexed hash of the file as it is now; nullopt when unknown (never
  // hashed, or changed since).
  std::optional<std::string> lookup(const std::string& path) const;
  void record(const std::string& path, const std::string& content_hash) const;
  // lookup(), else hash the file and record it.
  Result<std::string> hash(const std::string& path) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace polaris
