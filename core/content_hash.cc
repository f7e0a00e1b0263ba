#include "core/content_hash.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>

namespace polaris {
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

std::optional<std::string> file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  std::error_code ec;
  const auto real = fs::canonical(path, ec);
  return (ec ? path : real.string()) + "|" + std::to_string(st.st_size) + "|" +
         std::to_string(int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec) + "|" +
         std::to_string(st.st_ino) + "|" + std::to_string(st.st_dev);
}

bool publish_file(const std::string& path, const std::string& content) {
  // Unique per process and call: two writers never share a temporary file.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::binary);
    out << content;
    if (!out.flush()) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fs::remove(tmp, ec);
  return !ec;
}

ContentHashIndex::ContentHashIndex(std::string dir) : dir_(std::move(dir)) {}

std::optional<std::string> ContentHashIndex::lookup(const std::string& path) const {
  const auto identity = file_identity(path);
  if (!identity) return std::nullopt;
  std::ifstream in(fs::path(dir_) / string_sha256(*identity));
  std::string hash;
  if (!(in >> hash) || hash.size() != 64) return std::nullopt;
  return hash;
}

void ContentHashIndex::record(const std::string& path, const std::string& content_hash) const {
  const auto identity = file_identity(path);
  if (!identity) return;
  // The folder may have been removed since (a user clearing the cache).
  std::error_code ec;
  fs::create_directories(dir_, ec);
  publish_file((fs::path(dir_) / string_sha256(*identity)).string(), content_hash + "\n");
}

Result<std::string> ContentHashIndex::hash(const std::string& path) const {
  if (auto known = lookup(path)) return *known;
  const auto before = file_identity(path);
  POLARIS_ASSIGN_OR_RETURN(std::string hash, file_sha256(path));
  // A file rewritten while it was read must not index its new identity
  // under the old bytes' hash.
  if (before && before == file_identity(path)) record(path, hash);
  return hash;
}

}  // namespace polaris
