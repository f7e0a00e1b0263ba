#include "backends/onnxruntime/ort_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace polaris::ort {
namespace {

namespace fs = std::filesystem;

// Writes `path`'s data to disk: a full disk can surface only here (delayed
// allocation), and a file renamed into the cache must be whole.
bool synced(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  errno = error;
  return ok;
}

// Optimised graphs may use ISA-specific kernels (NCHWc layouts): an entry is
// only valid on the same kind of CPU.
std::string cpu_tag() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model, flags;
  while (std::getline(cpuinfo, line)) {
    if (model.empty() && line.rfind("model name", 0) == 0) model = line;
    if (flags.empty() && line.rfind("flags", 0) == 0) flags = line;
    if (!model.empty() && !flags.empty()) break;
  }
  return string_sha256(model + flags).substr(0, 8);
}

}  // namespace

OptimizedModelCache::OptimizedModelCache(std::string dir, std::string ort_version,
                                         std::function<void(const std::string&)> warn)
    : dir_(std::move(dir)),
      index_((fs::path(dir_) / "index").string()),
      ort_version_(std::move(ort_version)),
      warn_(std::move(warn)) {
  std::error_code ec;
  fs::create_directories(fs::path(dir_) / "index", ec);
}

OptimizedModelCache::~OptimizedModelCache() { wait_idle(); }

void OptimizedModelCache::wait_idle() {
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& w : workers) w.join();
}

std::string OptimizedModelCache::entry_name(const std::string& content_hash, const std::string& level,
                                            const std::string& provider) const {
  static const std::string cpu = cpu_tag();
  return content_hash.substr(0, 16) + "-ort" + ort_version_ + "-" + level + "-" + provider + "-" + cpu + ".onnx";
}

std::optional<OptimizedModelCache::Hit> OptimizedModelCache::lookup(const std::string& model_path,
                                                                    const std::string& level,
                                                                    const std::string& provider) {
  const auto hash = index_.lookup(model_path);
  if (!hash) return std::nullopt;
  const fs::path entry = fs::path(dir_) / entry_name(*hash, level, provider);
  std::error_code ec;
  if (!fs::exists(entry, ec)) return std::nullopt;
  return Hit{entry.string(), *hash};
}

void OptimizedModelCache::report(const std::string& message) const {
  if (warn_)
    warn_(message);
  else
    std::fprintf(stderr, "warning: %s\n", message.c_str());
}

void OptimizedModelCache::remove(const std::string& entry_path) {
  std::error_code ignored;
  fs::remove(entry_path, ignored);
}

void OptimizedModelCache::write_in_background(const std::string& model_path, const std::string& level,
                                              const std::string& provider,
                                              std::function<void(const std::string&)> save) {
  const std::string job = model_path + "|" + level + "|" + provider;
  std::lock_guard lock(mu_);
  if (!in_flight_.insert(job).second) return;  // already being written
  workers_.emplace_back([this, job, model_path, level, provider, save = std::move(save)] {
    // Never throws out of the thread: a failed write only means a later
    // miss. Whatever fails (a full disk, a read-only folder), the temporary
    // file goes: only complete entries are ever renamed into place.
    std::string tmp;
    try {
      // The folder may have been removed since start-up (a user clearing
      // the cache): recreate it rather than fail every write.
      std::error_code ec;
      fs::create_directories(fs::path(dir_) / "index", ec);
      auto hash = index_.hash(model_path);
      if (!hash.ok()) throw std::runtime_error(hash.status().message());
      const fs::path entry = fs::path(dir_) / entry_name(*hash, level, provider);
      if (!fs::exists(entry)) {
        tmp = entry.string() + ".tmp." + std::to_string(getpid());
        save(tmp);  // throws when ONNX Runtime cannot write it
        if (!synced(tmp)) throw std::runtime_error("cannot flush it to disk: " + std::string(std::strerror(errno)));
        fs::rename(tmp, entry);
        tmp.clear();
      }
    } catch (const std::exception& e) {
      report("the optimized-model cache could not store " + model_path + " (it stays uncached): " + e.what());
    } catch (...) {
      report("the optimized-model cache could not store " + model_path + " (it stays uncached)");
    }
    if (!tmp.empty()) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
    }
    std::lock_guard done(mu_);
    in_flight_.erase(job);
  });
}

}  // namespace polaris::ort
