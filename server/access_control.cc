#include "server/access_control.h"

#include <sys/stat.h>

#include <fstream>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

namespace polaris {
namespace {

constexpr std::size_t kMinTokenLength = 16;

Status check_token(const std::string& token, const char* what) {
  if (token.empty()) return Status::Ok();
  if (token.size() < kMinTokenLength)
    return InvalidArgument(std::string(what) + " must be at least " + std::to_string(kMinTokenLength) +
                           " characters long");
  for (char c : token)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return InvalidArgument(std::string(what) + " must not hold spaces or control characters");
  return Status::Ok();
}

// The token of an "Authorization: Bearer <token>" value; nullopt for
// anything else (no header, another scheme, no token).
std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i)  // the scheme is case-insensitive (RFC 9110)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace

Result<AccessPolicy> AccessPolicy::create(const AccessOptions& options) {
  POLARIS_RETURN_IF_ERROR(check_token(options.admin_token, "the admin token"));
  POLARIS_RETURN_IF_ERROR(check_token(options.inference_token, "the inference token"));
  AccessPolicy policy;
  if (!options.admin_token.empty()) policy.admin_ = digest(options.admin_token);
  if (!options.inference_token.empty()) policy.inference_ = digest(options.inference_token);
  policy.allow_repository_changes_ = options.allow_repository_changes;
  return policy;
}

AccessPolicy::Digest AccessPolicy::digest(std::string_view token) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d.data());
  return d;
}

bool AccessPolicy::matches(const std::optional<Digest>& want, const Digest& got) {
  return want.has_value() && CRYPTO_memcmp(want->data(), got.data(), got.size()) == 0;
}

Status AccessPolicy::check(Access access, std::string_view authorization) const {
  if (access == Access::kHealth) return Status::Ok();
  const bool needs_token = access == Access::kRepository ? admin_.has_value() : inference_.has_value();
  if (access == Access::kRepository && !repository_changes_enabled())
    return PermissionDenied(
        "repository changes (load, unload) are switched off: start the server with --admin-token-file (or "
        "--admin-token) to allow them with a token, or --allow-repository-changes true to allow them to anyone");
  if (!needs_token) return Status::Ok();
  const auto token = bearer_token(authorization);
  if (!token)
    return Unauthenticated(std::string(access == Access::kRepository ? "repository changes" : "inference") +
                           " need a token: send 'Authorization: Bearer <token>'");
  const Digest got = digest(*token);
  const bool granted = matches(admin_, got) || (access == Access::kInference && matches(inference_, got));
  if (!granted)
    return PermissionDenied(std::string("the token does not allow ") +
                            (access == Access::kRepository ? "repository changes" : "inference"));
  return Status::Ok();
}

Result<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read the token file " + path);
  std::string line;
  std::getline(in, line);
  const auto first = line.find_first_not_of(" \t\r\n");
  const auto last = line.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return InvalidArgument("the token file " + path + " is empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    spdlog::warn("token file {} is readable by others than its owner (chmod 600 it)", path);
  return line.substr(first, last - first + 1);
}

}  // namespace polaris
