#include "backends/onnxruntime/ort_cache.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <array>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

namespace polaris::ort {
namespace {

// A short tag for the CPU: optimised graphs may use ISA-specific kernels
// (NCHWc layouts), so a cache entry is only valid on the same kind of CPU.
std::string cpu_tag() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model, flags;
  while (std::getline(cpuinfo, line)) {
    if (model.empty() && line.rfind("model name", 0) == 0) model = line;
    if (flags.empty() && line.rfind("flags", 0) == 0) flags = line;
    if (!model.empty() && !flags.empty()) break;
  }
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08zx", std::hash<std::string>{}(model + flags) & 0xffffffffu);
  return hex;
}

}  // namespace

Result<std::string> file_sha256(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return NotFound("cannot stat '" + path + "'");
  using Key = std::tuple<std::string, off_t, int64_t>;
  static std::mutex mu;
  static std::map<Key, std::string> memo;
  const Key key{path, st.st_size, int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
  {
    std::lock_guard lock(mu);
    if (auto it = memo.find(key); it != memo.end()) return it->second;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read '" + path + "'");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::array<char, 1 << 16> buffer;
  while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0)
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  std::lock_guard lock(mu);
  memo[key] = hex;
  return hex;
}

Result<CacheKey> make_cache_key(const std::string& model_path, const std::string& ort_version,
                                const std::string& level, const std::string& provider) {
  POLARIS_ASSIGN_OR_RETURN(std::string hash, file_sha256(model_path));
  static const std::string cpu = cpu_tag();
  return CacheKey{hash, hash.substr(0, 16) + "-ort" + ort_version + "-" + level + "-" + provider + "-" + cpu + ".onnx"};
}

}  // namespace polaris::ort
