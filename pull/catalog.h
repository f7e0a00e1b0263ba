// The catalog of well-known models `polaris pull NAME` knows (issue 19).
//
// Data, not code: JSON files mapping a name to its URLs (mirrors, tried in
// order), sha256, size and format. Polaris ships catalog/models.json (ONNX
// Model Zoo files, hashes from the zoo's own Git LFS records); a site adds
// its own entries (an internal mirror, its fine-tuned models) in
// ~/.config/polaris/catalog.json or files given with --catalog. Later files
// override earlier ones entry by entry, so a site can point a shipped name
// at its own mirror. Format (docs/pull.md):
//   {"catalog_version": 1,
//    "models": [{"name": "mnist-8", "format": "onnx", "sha256": "...",
//                "size": 26454, "urls": ["https://...", "https://..."],
//                "description": "...", "source": "...", "license": "..."},
//               {"name": "torchvision-resnet18", "format": "torchvision",
//                "architecture": "resnet18", "sha256_prefix": "f37072fd",
//                "urls": ["https://.../resnet18-f37072fd.pth"]}]}
// Thread-safety: a Catalog is immutable once built.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace polaris::pull {

struct CatalogEntry {
  std::string name;
  // "onnx" or "torchscript": the file's extension in a repository;
  // "torchvision": a state_dict of `architecture`, exported to TorchScript
  // after the download (cli/pull_command.cc).
  std::string format;
  std::string architecture;  // torchvision.models builder, e.g. "resnet18"
  std::vector<std::string> urls;
  std::optional<std::string> sha256;
  std::optional<std::string> sha256_prefix;  // torchvision's file-name hash: the first hex digits
  std::optional<uint64_t> size;
  std::string description;
  std::string source;   // where the entry's URLs and hash were taken from
  std::string license;
  std::string catalog;  // the file that defined it
};

// The largest catalog file read: a catalog is a few KiB of text.
inline constexpr uint64_t kMaxCatalogBytes = 8 << 20;

class Catalog {
 public:
  // Adds a file's entries (overriding entries of the same name). Errors
  // name the file and the entry: NotFound, InvalidArgument.
  Status add_file(const std::string& path);
  Status add_json(const std::string& text, const std::string& source_name);

  const CatalogEntry* find(const std::string& name) const;
  std::vector<const CatalogEntry*> entries() const;  // sorted by name

 private:
  std::map<std::string, CatalogEntry> entries_;
};

// The shipped catalog, then the user's: <exe dir>/../share/polaris/catalog.json
// or the source tree's catalog/models.json (whichever exists), then
// $XDG_CONFIG_HOME/polaris/catalog.json (default ~/.config/...). Only
// existing files are listed.
std::vector<std::string> default_catalog_paths();

inline constexpr const char* kTorchvisionFormat = "torchvision";

// The extension a format's model file has in a repository: ".onnx", ".pt".
Result<std::string> extension_for_format(const std::string& format);

}  // namespace polaris::pull
