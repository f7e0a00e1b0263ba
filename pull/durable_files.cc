#include "pull/durable_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>

namespace polaris::pull {
namespace {

namespace fs = std::filesystem;

std::string temporary_name(const fs::path& destination) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}.tmp-{}-{}", destination.string(), ::getpid(), counter++);
}

}  // namespace

Status write_error(const std::string& path, int error) {
  if (error == ENOSPC || error == EDQUOT)
    return ResourceExhausted(fmt::format("the disk is full (writing {}); free some space and pull again", path));
  return Internal(fmt::format("cannot write {}: {}", path, std::strerror(error)));
}

Status sync_folder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal(fmt::format("cannot open {}: {}", folder, std::strerror(errno)));
  ::fsync(fd);
  ::close(fd);
  return Status::Ok();
}

Status publish_durably(const std::string& file, const std::string& destination) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Internal(fmt::format("cannot open {}: {}", file, std::strerror(errno)));
  const int synced = ::fsync(fd);
  const int sync_error = errno;
  ::close(fd);
  if (synced != 0) return write_error(file, sync_error);
  if (::rename(file.c_str(), destination.c_str()) != 0)
    return Internal(fmt::format("cannot move {} to {}: {}", file, destination, std::strerror(errno)));
  return sync_folder(fs::path(destination).parent_path().string());
}

Status copy_file_durably(const std::string& source, const std::string& destination) {
  const int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return NotFound(fmt::format("cannot read {}: {}", source, std::strerror(errno)));
  const std::string temporary = temporary_name(destination);
  const int out = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    const int error = errno;
    ::close(in);
    return write_error(temporary, error);
  }
  std::vector<char> buffer(1 << 20);
  Status status = Status::Ok();
  for (;;) {
    const ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Internal(fmt::format("cannot read {}: {}", source, std::strerror(errno)));
      break;
    }
    if (n == 0) break;
    ssize_t written = 0;
    while (written < n) {
      const ssize_t w = ::write(out, buffer.data() + written, static_cast<size_t>(n - written));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        status = write_error(destination, errno);
        break;
      }
      written += w;
    }
    if (!status.ok()) break;
  }
  if (status.ok() && ::fsync(out) != 0) status = write_error(destination, errno);
  ::close(in);
  if (::close(out) != 0 && status.ok()) status = write_error(destination, errno);
  if (status.ok() && ::rename(temporary.c_str(), destination.c_str()) != 0)
    status = Internal(fmt::format("cannot move {} to {}: {}", temporary, destination, std::strerror(errno)));
  if (!status.ok()) {
    ::unlink(temporary.c_str());
    return status;
  }
  return sync_folder(fs::path(destination).parent_path().string());
}

Status write_text_durably(const std::string& destination, const std::string& text) {
  const std::string temporary = temporary_name(destination);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(temporary, ec);
      return ResourceExhausted("cannot write " + destination + " (is the disk full?)");
    }
  }
  Status published = publish_durably(temporary, destination);
  if (!published.ok()) {
    std::error_code ec;
    fs::remove(temporary, ec);
  }
  return published;
}

}  // namespace polaris::pull
