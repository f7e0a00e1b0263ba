// What `polaris pull SOURCE` gets, and getting it into the cache (issue 19).
//
// A source is a catalog name, an http(s) URL or a local file. resolve_source
// turns it into the URLs to try (the catalog's mirrors, then the user's
// --mirror URLs), the hash and size to check and the name to install under;
// fetch() returns the verified file from the cache, downloading it only when
// the cache does not have it: mirrors in order, each resumed where an
// earlier attempt stopped, a file whose hash is wrong discarded and the next
// mirror tried, a full disk ending it at once. Offline, only the cache counts.
// Engine-free: the CLI adds the generated config and the installation.
// Thread-safety: pure functions over the cache and the network.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pull/catalog.h"
#include "pull/download.h"
#include "pull/model_cache.h"

namespace polaris::pull {

struct SourceRequest {
  std::string source;                   // catalog name, URL or file
  std::string name;                     // install name; empty: from the source
  std::string sha256;                   // expected hash; empty: the catalog's, or none
  std::string format;                   // onnx | torchscript; empty: from the catalog or the extension
  std::vector<std::string> mirrors;     // tried after the source's own URLs
};

struct ResolvedSource {
  std::string name;       // a valid model name
  std::string extension;  // of the file in a repository: ".onnx", ".ort", ".pt"
  std::vector<std::string> urls;
  std::string local_file;  // set for a local source (urls then empty)
  std::optional<std::string> sha256;
  std::optional<std::string> sha256_prefix;  // checked when no full sha256 is known
  std::optional<uint64_t> size;
  std::string torchvision_architecture;  // set: the file is a state_dict to export (extension ".pt")
  const CatalogEntry* entry = nullptr;  // when it came from the catalog
};

Result<ResolvedSource> resolve_source(const SourceRequest& request, const Catalog& catalog);

struct FetchOptions {
  bool offline = false;
  DownloadOptions download;  // expected_size is set from the source
  std::function<void(const std::string&)> on_notice;
};

struct Fetched {
  ModelCache::Entry file;
  bool from_cache = false;
  std::string url;  // the URL it came from (empty from the cache or a local file)
};

Result<Fetched> fetch(const ResolvedSource& source, const ModelCache& cache, const FetchOptions& options);

}  // namespace polaris::pull
