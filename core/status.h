// Status and Result: Polaris's one error model.
//
// Engines throw; backends catch and convert once. Every layer above returns
// Status (cheap when OK) or Result<T>. Protocol codes are chosen in one place,
// http_status() / grpc_status_code(), at the frontend edge.
// Thread-safety: value types, no shared state.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace polaris {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller sent something wrong: 400
  kNotFound,            // no such model, version, file: 404
  kAlreadyExists,       // 400
  kFailedPrecondition,  // e.g. model not ready: 400
  kResourceExhausted,   // over a budget or a queue limit: 503
  kUnavailable,         // try again later (loading, shutting down): 503
  kUnimplemented,       // 501
  kDeadlineExceeded,    // request timed out in the queue: 400 (Triton's choice)
  kCancelled,           // 400
  kInternal,            // a bug or an engine failure: 500
  kUnauthenticated,     // no or malformed credentials: 401
  kPermissionDenied,    // credentials that do not allow this: 403
  kUnknown,             // 400 (last: the tests count the codes up to it)
};

std::string_view to_string(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }
  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  const std::string& message() const;
  // "NOT_FOUND: model 'x' is not in the repository"
  std::string to_string() const;
  // Returns a copy whose message is "<context>: <message>".
  Status with_context(std::string_view context) const;

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  // Null when OK, so an OK Status is a single pointer.
  std::shared_ptr<const State> state_;
};

// Protocol mapping, in one place (kserve-v2-protocol.md: internal 500,
// not found 404, unavailable 503, unsupported 501, no credentials 401,
// refused credentials 403, everything else 400).
int http_status(StatusCode code);
// grpc::StatusCode numbering (stable across gRPC versions).
int grpc_status_code(StatusCode code);

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }

// A value or the Status saying why there is none (std::expected arrives in
// C++23; g++ 12 in C++20 mode has none).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  // An OK Status carries no value: that is a bug in the caller, reported
  // as INTERNAL rather than a Result that is neither value nor error.
  Result(Status status)  // NOLINT
      : v_(status.ok() ? Status(StatusCode::kInternal, "Result built from an OK Status") : std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace polaris

#define POLARIS_CONCAT_INNER(a, b) a##b
#define POLARIS_CONCAT(a, b) POLARIS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when it is not OK.
#define POLARIS_RETURN_IF_ERROR(expr)              \
  do {                                             \
    ::polaris::Status polaris_status_ = (expr);    \
    if (!polaris_status_.ok()) return polaris_status_; \
  } while (0)

// `POLARIS_ASSIGN_OR_RETURN(auto x, f());` declares x from a Result or
// returns its Status.
#define POLARIS_ASSIGN_OR_RETURN(lhs, expr) \
  POLARIS_ASSIGN_OR_RETURN_IMPL(POLARIS_CONCAT(polaris_result_, __LINE__), lhs, expr)
#define POLARIS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
