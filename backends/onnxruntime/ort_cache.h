// The optimized-model cache: ORT writes the graph it optimised
// (SetOptimizedModelFilePath); a later load of the same model with the same
// ORT version, level and provider reads that file and skips optimisation.
// Keyed by the model's content hash, so a changed file never hits a stale entry.
// Thread-safety: entries are written to a temporary name and renamed, so
// concurrent loads never see a half-written file.
#pragma once

#include <string>

#include "core/status.h"

namespace polaris::ort {

struct CacheKey {
  std::string content_hash;  // sha256 of the model file, hex
  std::string file_name;     // <hash16>-ort<ver>-<level>-<provider>-<cpu>.onnx
};

// sha256 of the file's bytes, hex; memoised per (path, size, mtime) so an
// unchanged file is hashed once per process.
Result<std::string> file_sha256(const std::string& path);

Result<CacheKey> make_cache_key(const std::string& model_path, const std::string& ort_version,
                                const std::string& level, const std::string& provider);

}  // namespace polaris::ort
