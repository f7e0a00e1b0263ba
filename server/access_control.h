// Who may do what over the network (docs/security.md). Three kinds of
// request, from the least to the most trusted:
//   health      liveness and readiness: always open (load balancers and
//               Kubernetes probes carry no credentials);
//   inference   infer, metadata, config, statistics, the repository index:
//               open unless an inference token is set;
//   repository  changes to what is served (load, with or without files;
//               unload) and any admin route: off unless an admin token is
//               set (then it is required) or changes are allowed openly.
// Credentials are bearer tokens (`Authorization: Bearer <token>` over HTTP,
// the `authorization` metadata key over gRPC). The admin token also grants
// inference. Tokens are compared as SHA-256 digests with CRYPTO_memcmp:
// constant time, and the same time whatever the length.
// Thread-safety: immutable after construction.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace polaris {

enum class Access { kHealth, kInference, kRepository };

struct AccessOptions {
  std::string admin_token;        // empty: none
  std::string inference_token;    // empty: inference is open
  bool allow_repository_changes = false;  // without an admin token: open to anyone
};

class AccessPolicy {
 public:
  // InvalidArgument for a token shorter than 16 characters or holding
  // whitespace or control characters (it could not travel in a header).
  static Result<AccessPolicy> create(const AccessOptions& options);
  AccessPolicy() = default;  // everything open except repository changes

  // Ok, or: Unauthenticated (no or malformed credentials: 401 /
  // UNAUTHENTICATED), PermissionDenied (a token that does not grant this,
  // or repository changes switched off: 403 / PERMISSION_DENIED).
  // `authorization` is the header's value as sent ("Bearer abc"), empty
  // when absent. Messages never quote a token.
  Status check(Access access, std::string_view authorization) const;

  bool repository_changes_enabled() const { return admin_.has_value() || allow_repository_changes_; }
  bool admin_token_required() const { return admin_.has_value(); }
  bool inference_protected() const { return inference_.has_value(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest digest(std::string_view token);
  static bool matches(const std::optional<Digest>& want, const Digest& got);

  std::optional<Digest> admin_, inference_;
  bool allow_repository_changes_ = false;
};

// A token from a file (its first line, surrounding whitespace dropped):
// keeps the token out of the process list and shell history. Warns when
// the file is readable by group or others.
Result<std::string> read_token_file(const std::string& path);

}  // namespace polaris
