#include "backends/onnxruntime/ort_cache.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <memory>

namespace polaris::ort {
namespace {

namespace fs = std::filesystem;

using Digest = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

Digest new_digest() {
  Digest ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  return ctx;
}

std::string finish_hex(Digest& ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
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

// What identifies a file's content without reading it (as make and ccache's
// direct mode trust): real path, size, mtime in ns, inode and device.
std::optional<std::string> file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  std::error_code ec;
  const auto real = fs::canonical(path, ec);
  return (ec ? path : real.string()) + "|" + std::to_string(st.st_size) + "|" +
         std::to_string(int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec) + "|" +
         std::to_string(st.st_ino) + "|" + std::to_string(st.st_dev);
}

// Writes `content` to `path` via a temporary file and an atomic rename.
void publish_file(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp." + std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  { std::ofstream(tmp) << content; }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fs::remove(tmp, ec);
}

}  // namespace

std::string string_sha256(const std::string& text) {
  auto ctx = new_digest();
  EVP_DigestUpdate(ctx.get(), text.data(), text.size());
  return finish_hex(ctx);
}

Result<std::string> file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read '" + path + "'");
  auto ctx = new_digest();
  std::array<char, 1 << 16> buffer;
  while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0)
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
  return finish_hex(ctx);
}

OptimizedModelCache::OptimizedModelCache(std::string dir, std::string ort_version)
    : dir_(std::move(dir)), ort_version_(std::move(ort_version)) {
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

std::optional<std::string> OptimizedModelCache::indexed_hash(const std::string& model_path) const {
  const auto identity = file_identity(model_path);
  if (!identity) return std::nullopt;
  std::ifstream in(fs::path(dir_) / "index" / string_sha256(*identity));
  std::string hash;
  if (!(in >> hash) || hash.size() != 64) return std::nullopt;
  return hash;
}

void OptimizedModelCache::index(const std::string& model_path, const std::string& content_hash) const {
  if (const auto identity = file_identity(model_path))
    publish_file(fs::path(dir_) / "index" / string_sha256(*identity), content_hash + "\n");
}

std::optional<OptimizedModelCache::Hit> OptimizedModelCache::lookup(const std::string& model_path,
                                                                    const std::string& level,
                                                                    const std::string& provider) {
  const auto hash = indexed_hash(model_path);
  if (!hash) return std::nullopt;
  const fs::path entry = fs::path(dir_) / entry_name(*hash, level, provider);
  std::error_code ec;
  if (!fs::exists(entry, ec)) return std::nullopt;
  return Hit{entry.string(), *hash};
}

void OptimizedModelCache::write_in_background(const std::string& model_path, const std::string& level,
                                              const std::string& provider,
                                              std::function<void(const std::string&)> save) {
  const std::string job = model_path + "|" + level + "|" + provider;
  std::lock_guard lock(mu_);
  if (!in_flight_.insert(job).second) return;  // already being written
  workers_.emplace_back([this, job, model_path, level, provider, save = std::move(save)] {
    // Never throws out of the thread: a failed write only means a later miss.
    try {
      // The folder may have been removed since start-up (a user clearing
      // the cache): recreate it rather than fail every write.
      std::error_code ec;
      fs::create_directories(fs::path(dir_) / "index", ec);
      auto hash = file_sha256(model_path);
      if (hash.ok()) {
        index(model_path, *hash);
        const fs::path entry = fs::path(dir_) / entry_name(*hash, level, provider);
        if (!fs::exists(entry)) {
          const std::string tmp = entry.string() + ".tmp." + std::to_string(getpid());
          save(tmp);
          fs::rename(tmp, entry, ec);
          if (ec) fs::remove(tmp, ec);
        }
      }
    } catch (...) {
    }
    std::lock_guard done(mu_);
    in_flight_.erase(job);
  });
}

}  // namespace polaris::ort
