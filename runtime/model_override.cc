#include "runtime/model_override.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "core/quote.h"
#include "runtime/model_repository.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxComponentBytes = 255;  // NAME_MAX on Linux
// A whole file path in a key: well under PATH_MAX (4096) once the private
// folder's own path is put in front of it.
constexpr std::size_t kMaxPathBytes = 1024;

Status bad_key(std::string_view key, const std::string& why) {
  return InvalidArgument("load parameter " + in_quotes(key) + ": " + why);
}

// A failure to write a request's files, as the client sees it: the file as
// the request named it and the system's reason, never the server's paths
// (logged here for the operator).
Status write_failure(const std::string& what, const fs::path& server_path, int error) {
  spdlog::warn("cannot write {} ({}): {}", what, server_path.string(), std::strerror(error));
  if (error == ENOSPC || error == EDQUOT)
    return ResourceExhausted("cannot store " + what + ": the server's disk is full");
  return Internal("cannot store " + what + ": " + std::strerror(error));
}

bool is_version(std::string_view component) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(component.data(), component.data() + component.size(), v);
  // No leading zeros: "01" and "1" would be two names for one version.
  return ec == std::errc() && end == component.data() + component.size() && v > 0 && component.front() != '0';
}

// Writes `content` to `path`; `what` names it for messages.
Status write_file(const fs::path& path, std::string_view content, const std::string& what) {
  // O_EXCL|O_NOFOLLOW: the folder is fresh and private, so the file cannot
  // exist yet; if it somehow does, it is not followed or overwritten.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return write_failure(what, path, errno);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n == 0 ? EIO : errno;
      ::close(fd);
      return write_failure(what, path, error);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return write_failure(what, path, errno);
  return Status::Ok();
}

}  // namespace

Result<std::string> override_file_path(std::string_view key) {
  if (!key.starts_with(kOverrideFilePrefix)) return bad_key(key, "a file parameter starts with 'file:'");
  const std::string_view path = key.substr(kOverrideFilePrefix.size());
  const std::string form = "must be file:<version>/<file name>, e.g. file:1/model.onnx";
  if (path.empty()) return bad_key(key, "names no file; it " + form);
  if (path.size() > kMaxPathBytes)
    return bad_key(key, "names a path of " + std::to_string(path.size()) + " bytes; at most " +
                            std::to_string(kMaxPathBytes) + " are allowed");
  if (path.front() == '/') return bad_key(key, "is an absolute path; it " + form);
  for (char c : path) {
    if (c == '\\') return bad_key(key, "holds a backslash; it " + form);
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return bad_key(key, "holds a control character (NUL, newline...)");
  }
  std::vector<std::string_view> components;
  for (std::size_t start = 0;;) {
    const std::size_t slash = path.find('/', start);
    components.push_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  for (std::string_view c : components) {
    if (c.empty()) return bad_key(key, "has an empty path component; it " + form);
    if (c == "." || c == "..") return bad_key(key, "has a '" + std::string(c) + "' component; it " + form);
    if (c.size() > kMaxComponentBytes)
      return bad_key(key, "has a component longer than " + std::to_string(kMaxComponentBytes) + " bytes");
  }
  if (!is_version(components.front()))
    return bad_key(key, "does not start with a version folder (a positive number such as 1); it " + form);
  if (components.size() < 2) return bad_key(key, "names a version folder, not a file; it " + form);
  return std::string(path);
}

Result<std::shared_ptr<const OverrideFiles>> OverrideFiles::write(std::string_view model,
                                                                 const std::vector<File>& files) {
  POLARIS_RETURN_IF_ERROR(validate_model_name(model));  // it becomes a folder name
  // Every key first: a bad one writes nothing.
  std::vector<std::pair<std::string, const File*>> paths;
  for (const File& file : files) {
    POLARIS_ASSIGN_OR_RETURN(std::string path, override_file_path(file.first));
    paths.emplace_back(std::move(path), &file);
  }
  std::sort(paths.begin(), paths.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < paths.size(); ++i) {
    const std::string& before = paths[i - 1].first;
    const std::string& path = paths[i].first;
    if (path == before) return bad_key(paths[i].second->first, "is given twice");
  }
  // A file that is also another file's folder ("1/a" and "1/a/b"): sorting
  // puts the shorter right before its children or their siblings, so look
  // at every earlier path that could be a prefix.
  for (std::size_t i = 0; i < paths.size(); ++i)
    for (std::size_t j = i + 1; j < paths.size() && paths[j].first.starts_with(paths[i].first); ++j)
      if (paths[j].first[paths[i].first.size()] == '/')
        return bad_key(paths[j].second->first, "lies inside '" + paths[i].first + "', which is a file");

  std::error_code ec;
  const fs::path temp = fs::temp_directory_path(ec);
  if (ec) return Internal("no temporary directory for the request's model files: " + ec.message());
  std::string pattern = (temp / "polaris-override-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)  // mode 0700: only this user reads the files
    return write_failure("the request's model files", temp, errno);
  std::shared_ptr<const OverrideFiles> made(
      new OverrideFiles(pattern, (fs::path(pattern) / std::string(model)).string()));
  // From here on, returning without `made` removes the folder again.
  for (const auto& [path, file] : paths) {
    const fs::path target = fs::path(made->model_dir_) / path;
    const std::string what = "the file " + in_quotes(path);
    fs::create_directories(target.parent_path(), ec);
    if (ec) return write_failure(what, target.parent_path(), ec.value());
    POLARIS_RETURN_IF_ERROR(write_file(target, file->second, what));
  }
  spdlog::info("model '{}': {} file{} from the load request written to {}", model, files.size(),
               files.size() == 1 ? "" : "s", made->model_dir_);
  return made;
}

OverrideFiles::~OverrideFiles() {
  std::error_code ec;
  fs::remove_all(root_, ec);
  if (ec)
    spdlog::warn("could not remove {} (a load request's model files): {}", root_, ec.message());
  else
    spdlog::debug("removed {} (a load request's model files)", root_);
}

}  // namespace polaris
