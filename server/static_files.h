// The dashboard's built files (dashboard/, built by scripts/build-dashboard),
// read into memory once when the server starts and served from there: a
// request's path is only ever a key into that map, never a file system
// path, so no URL can reach a file outside the folder.
// Thread-safety: immutable after load().
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"

namespace polaris {

class StaticFiles {
 public:
  struct File {
    std::string content_type;
    std::string body;
    // Vite names what it builds under assets/ by content hash: those never
    // change under their name and may be cached for good; index.html may.
    bool immutable = false;
  };

  // Every regular file under `dir` (symbolic links, other kinds and hidden
  // names are skipped), keyed by its path relative to `dir` with '/' separators.
  // NotFound when `dir` holds no index.html; ResourceExhausted beyond
  // kMaxTotalBytes (a dashboard is a few hundred KB: a larger folder is
  // the wrong folder).
  static constexpr uint64_t kMaxTotalBytes = uint64_t{64} << 20;
  static Result<StaticFiles> load(const std::filesystem::path& dir);

  // The file for a URL path relative to the site root ("" and "/" are
  // index.html); null when there is none.
  const File* find(std::string_view url_path) const;
  std::size_t size() const { return files_.size(); }

 private:
  std::map<std::string, File, std::less<>> files_;
};

// The Content-Type for a file name, by extension (application/octet-stream
// for unknown ones).
std::string content_type_for(std::string_view file_name);

}  // namespace polaris
