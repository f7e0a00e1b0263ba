#include "pull/model_cache.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/content_hash.h"
#include "pull/durable_files.h"

namespace polaris::pull {
namespace {

namespace fs = std::filesystem;

Status ensure_folder(const fs::path& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return write_error(folder.string(), ec.value());
  return Status::Ok();
}

}  // namespace

bool is_sha256(const std::string& text) {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c) || (c >= 'a' && c <= 'f'); });
}

Result<std::string> normalize_sha256(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!is_sha256(lower)) return InvalidArgument("'" + text + "' is not a sha256 (64 hex digits)");
  return lower;
}

ModelCache::ModelCache(std::string dir) : dir_(std::move(dir)) {}

std::optional<std::string> ModelCache::find(const std::string& sha256) const {
  if (!is_sha256(sha256)) return std::nullopt;
  const fs::path blob = fs::path(dir_) / "blobs" / sha256;
  std::error_code ec;
  if (!fs::is_regular_file(blob, ec)) return std::nullopt;
  return blob.string();
}

std::optional<std::string> ModelCache::hash_for_url(const std::string& url) const {
  std::ifstream in(fs::path(dir_) / "urls" / string_sha256(url));
  std::string hash;
  if (!(in >> hash) || !is_sha256(hash)) return std::nullopt;
  return hash;
}

Result<std::string> ModelCache::partial_path(const std::optional<std::string>& expected_sha256,
                                             const std::string& url) const {
  const fs::path folder = fs::path(dir_) / "partial";
  if (Status s = ensure_folder(folder); !s.ok()) return s;
  return (folder / ((expected_sha256 ? *expected_sha256 : "url-" + string_sha256(url)) + ".part")).string();
}

Result<ModelCache::Entry> ModelCache::publish(const std::string& partial_path,
                                              const std::optional<std::string>& expected_sha256,
                                              const std::string& url) const {
  auto hash = file_sha256(partial_path);
  if (!hash.ok()) return hash.status();
  if (expected_sha256 && *hash != *expected_sha256) {
    ::unlink(partial_path.c_str());
    return InvalidArgument(fmt::format("sha256 mismatch for {}: expected {}, got {}; the file was discarded", url,
                                       *expected_sha256, *hash));
  }
  const fs::path blobs = fs::path(dir_) / "blobs";
  if (Status s = ensure_folder(blobs); !s.ok()) return s;
  const std::string blob = (blobs / *hash).string();
  if (Status s = publish_durably(partial_path, blob); !s.ok()) return s;
  if (!url.empty()) {
    const fs::path urls = fs::path(dir_) / "urls";
    // The URL index only saves a download: failing to write it costs nothing.
    if (ensure_folder(urls).ok()) publish_file((urls / string_sha256(url)).string(), *hash + "\n" + url + "\n");
  }
  return Entry{*hash, blob};
}

Result<ModelCache::Entry> ModelCache::import_file(const std::string& source,
                                                  const std::optional<std::string>& expected_sha256) const {
  auto hash = file_sha256(source);
  if (!hash.ok()) return hash.status();
  if (expected_sha256 && *hash != *expected_sha256)
    return InvalidArgument(
        fmt::format("sha256 mismatch for {}: expected {}, got {}", source, *expected_sha256, *hash));
  if (auto cached = find(*hash)) return Entry{*hash, *cached};
  const fs::path blobs = fs::path(dir_) / "blobs";
  if (Status s = ensure_folder(blobs); !s.ok()) return s;
  const std::string blob = (blobs / *hash).string();
  if (Status s = copy_file_durably(source, blob); !s.ok()) return s;
  return Entry{*hash, blob};
}

}  // namespace polaris::pull
