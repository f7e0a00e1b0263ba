#include "pull/repository_install.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/content_hash.h"
#include "pull/durable_files.h"
#include "runtime/model_repository.h"

namespace polaris::pull {
namespace {

namespace fs = std::filesystem;

struct VersionFolders {
  std::vector<int64_t> versions;
  std::optional<int64_t> holding_same_bytes;
};

// The model's version folders, and the one whose model file has these bytes.
VersionFolders scan_versions(const fs::path& model_dir, const std::string& sha256, uint64_t size) {
  VersionFolders found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
    if (!entry.is_directory(ec)) continue;
    const auto version = parse_version_folder(entry.path().filename().string());
    if (!version) continue;
    found.versions.push_back(*version);
    auto file = find_model_file(entry.path().string(), inference::ModelConfig());
    if (!file.ok() || fs::file_size(*file, ec) != size) continue;
    if (auto hash = file_sha256(*file); hash.ok() && *hash == sha256) found.holding_same_bytes = *version;
  }
  return found;
}

}  // namespace

Result<Installed> install_into_repository(const InstallRequest& request) {
  if (Status s = validate_model_name(request.name); !s.ok()) return s;
  const fs::path model_dir = fs::path(request.repository) / request.name;
  std::error_code ec;
  fs::create_directories(model_dir, ec);
  if (ec) return InvalidArgument("cannot create " + model_dir.string() + ": " + ec.message());
  const uint64_t size = fs::file_size(request.file, ec);
  if (ec) return NotFound("cannot read " + request.file + ": " + ec.message());

  const VersionFolders existing = scan_versions(model_dir, request.sha256, size);
  Installed installed;
  if (existing.holding_same_bytes && (request.version == 0 || request.version == *existing.holding_same_bytes)) {
    installed.version = *existing.holding_same_bytes;
    installed.already_there = true;
    auto file = find_model_file((model_dir / std::to_string(installed.version)).string(), inference::ModelConfig());
    installed.model_path = file.ok() ? *file : "";
    return installed;
  }
  int64_t version = request.version;
  if (version == 0)
    version = existing.versions.empty() ? 1 : *std::max_element(existing.versions.begin(), existing.versions.end()) + 1;
  const fs::path version_dir = model_dir / std::to_string(version);
  if (fs::exists(version_dir, ec))
    return Status(StatusCode::kAlreadyExists,
                  fmt::format("{} exists and holds other files: give another --version, or leave it out to add "
                              "version {}",
                              version_dir.string(),
                              existing.versions.empty() ? 1 : *std::max_element(existing.versions.begin(),
                                                                                 existing.versions.end()) + 1));

  // Staged beside the version folder (same filesystem, so the rename is atomic).
  const fs::path staging = model_dir / fmt::format(".pull-{}-{}", version, ::getpid());
  fs::remove_all(staging, ec);
  fs::create_directory(staging, ec);
  if (ec) return InvalidArgument("cannot create " + staging.string() + ": " + ec.message());
  auto abandon = [&](Status status) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    return status;
  };
  const fs::path staged_file = staging / ("model" + request.extension);
  if (Status s = copy_file_durably(request.file, staged_file.string()); !s.ok()) return abandon(s);

  const fs::path config_path = model_dir / "config.pbtxt";
  if (!request.config_text.empty() && !fs::exists(config_path, ec)) {
    if (Status s = write_text_durably(config_path.string(), request.config_text); !s.ok()) return abandon(s);
    installed.wrote_config = true;
  }
  if (::rename(staging.c_str(), version_dir.c_str()) != 0)
    return abandon(Internal(fmt::format("cannot move {} to {}: {}", staging.string(), version_dir.string(),
                                        std::strerror(errno))));
  // The version is in place; a failed folder fsync only weakens its
  // durability across a power cut, so it does not undo the install.
  (void)sync_folder(model_dir.string());
  installed.version = version;
  installed.model_path = (version_dir / staged_file.filename()).string();
  return installed;
}

}  // namespace polaris::pull
