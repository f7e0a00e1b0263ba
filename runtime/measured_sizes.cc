#include "runtime/measured_sizes.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "core/content_hash.h"

namespace fs = std::filesystem;

namespace polaris {
namespace {

// Enough for every model a server or a notebook loads; past it the oldest
// knowledge is dropped (files keep it).
constexpr std::size_t kMaxRemembered = 4096;
// Files are keyed by identity, so models copied to new places (test runs,
// re-downloads) leave stale files: past this many, the oldest half goes.
constexpr std::size_t kMaxFiles = 2000;

void drop_oldest_when_full(const std::string& dir) {
  std::error_code ec;
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code time_ec;
    const auto time = e.last_write_time(time_ec);
    if (!time_ec) files.emplace_back(time, e.path());
  }
  if (files.size() <= kMaxFiles) return;
  std::sort(files.begin(), files.end());
  for (std::size_t i = 0; i < files.size() - kMaxFiles / 2; ++i) fs::remove(files[i].second, ec);
}

}  // namespace

MeasuredSizes::MeasuredSizes(std::string dir) : dir_(std::move(dir)) {
  if (!dir_.empty()) drop_oldest_when_full(dir_);
}

std::optional<std::string> MeasuredSizes::key_of(const std::string& path, const std::string& signature) const {
  const auto identity = file_identity(path);
  if (!identity) return std::nullopt;
  return string_sha256(*identity + "\n" + signature);
}

std::optional<uint64_t> MeasuredSizes::lookup(const std::string& path, const std::string& signature) const {
  const auto key = key_of(path, signature);
  if (!key) return std::nullopt;
  std::lock_guard lock(mu_);
  if (auto it = known_.find(*key); it != known_.end()) return it->second;
  if (dir_.empty()) return std::nullopt;
  std::ifstream in(fs::path(dir_) / *key);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  uint64_t bytes = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), bytes);
  if (error != std::errc() || end != text.data() + text.size() || bytes == 0) return std::nullopt;  // damaged
  if (known_.size() >= kMaxRemembered) known_.clear();
  known_[*key] = bytes;
  return bytes;
}

void MeasuredSizes::record(const std::string& path, const std::string& signature, uint64_t bytes) {
  const auto key = key_of(path, signature);
  if (!key || bytes == 0) return;
  {
    std::lock_guard lock(mu_);
    if (known_.size() >= kMaxRemembered) known_.clear();
    known_[*key] = bytes;
  }
  if (dir_.empty()) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);  // it may have been removed since (a user clearing the cache)
  publish_file((fs::path(dir_) / *key).string(), std::to_string(bytes) + "\n");
}

std::string load_signature(const Backend& backend, const InstanceRequest& request, const EngineThreads& threads) {
  std::string config;
  {
    google::protobuf::io::StringOutputStream stream(&config);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);  // the same config, the same bytes
    request.config.SerializeToCodedStream(&out);
  }
  std::string parameters;
  for (const auto& [k, v] : request.options.parameters) parameters += k + "=" + v + ";";
  std::string providers;
  for (const auto& p : request.options.providers) providers += p + ",";
  return fmt::format("{} {}\nconfig {}\nproviders {}\noptimization {}\nparameters {}\nthreads {}/{}/{}\nwarmup {}",
                     backend.name(), backend.engine_version(), string_sha256(config), providers,
                     to_string(request.options.optimization_level), parameters, threads.intra_op, threads.inter_op,
                     threads.allow_spinning, request.warmup);
}

}  // namespace polaris
