#include "core/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace polaris {
namespace {

struct CodeFacts {
  StatusCode code;
  const char* name;
  int http;
  int grpc;  // grpc::StatusCode
};

// Every StatusCode, with the protocol numbers written out by hand.
const std::vector<CodeFacts>& all_codes() {
  static const std::vector<CodeFacts> kAll = {
      {StatusCode::kOk, "OK", 200, 0},
      {StatusCode::kInvalidArgument, "INVALID_ARGUMENT", 400, 3},
      {StatusCode::kNotFound, "NOT_FOUND", 404, 5},
      {StatusCode::kAlreadyExists, "ALREADY_EXISTS", 400, 6},
      {StatusCode::kFailedPrecondition, "FAILED_PRECONDITION", 400, 9},
      {StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED", 503, 8},
      {StatusCode::kUnavailable, "UNAVAILABLE", 503, 14},
      {StatusCode::kUnimplemented, "UNIMPLEMENTED", 501, 12},
      {StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED", 400, 4},
      {StatusCode::kCancelled, "CANCELLED", 400, 1},
      {StatusCode::kInternal, "INTERNAL", 500, 13},
      {StatusCode::kUnauthenticated, "UNAUTHENTICATED", 401, 16},
      {StatusCode::kPermissionDenied, "PERMISSION_DENIED", 403, 7},
      {StatusCode::kUnknown, "UNKNOWN", 400, 2},
  };
  return kAll;
}

TEST(StatusTest, CodeTableIsComplete) {
  EXPECT_EQ(all_codes().size(), static_cast<std::size_t>(StatusCode::kUnknown) + 1);
}

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.to_string(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().to_string(), "OK");
}

TEST(StatusTest, OkIsCheap) {
  // An OK Status is one (null) shared_ptr: no heap state to copy.
  static_assert(sizeof(Status) == sizeof(std::shared_ptr<const void>));
  Status a;
  Status b = a;
  EXPECT_TRUE(b.ok());
  // The empty message of every OK Status is the same shared object.
  EXPECT_EQ(&a.message(), &b.message());
  EXPECT_EQ(&a.message(), &Status::Ok().message());
}

TEST(StatusTest, OkCodeCarriesNoMessage) {
  Status s(StatusCode::kOk, "ignored");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = NotFound("model 'x' is not in the repository");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "model 'x' is not in the repository");
  EXPECT_EQ(s.to_string(), "NOT_FOUND: model 'x' is not in the repository");
  Status copy = s;
  EXPECT_EQ(copy.code(), StatusCode::kNotFound);
  EXPECT_EQ(copy.message(), s.message());
  Status empty_message(StatusCode::kInternal, "");
  EXPECT_FALSE(empty_message.ok());
  EXPECT_EQ(empty_message.to_string(), "INTERNAL: ");
}

TEST(StatusTest, Helpers) {
  EXPECT_EQ(InvalidArgument("m").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NotFound("m").code(), StatusCode::kNotFound);
  EXPECT_EQ(Unavailable("m").code(), StatusCode::kUnavailable);
  EXPECT_EQ(Internal("m").code(), StatusCode::kInternal);
  EXPECT_EQ(Unimplemented("m").code(), StatusCode::kUnimplemented);
  EXPECT_EQ(ResourceExhausted("m").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(FailedPrecondition("m").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Internal("boom").message(), "boom");
}

TEST(StatusTest, WithContext) {
  Status s = InvalidArgument("bad shape");
  Status wrapped = s.with_context("input 'x'");
  EXPECT_EQ(wrapped.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wrapped.message(), "input 'x': bad shape");
  EXPECT_EQ(wrapped.to_string(), "INVALID_ARGUMENT: input 'x': bad shape");
  EXPECT_EQ(s.message(), "bad shape");  // the original is untouched
  EXPECT_EQ(wrapped.with_context("model 'm'").message(), "model 'm': input 'x': bad shape");
  // Context on OK stays OK, with no message.
  Status ok = Status::Ok().with_context("ignored");
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.message(), "");
}

TEST(StatusTest, CodeNamesStatusAndProtocolCodes) {
  for (const auto& c : all_codes()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(to_string(c.code), c.name);
    EXPECT_EQ(http_status(c.code), c.http);
    EXPECT_EQ(grpc_status_code(c.code), c.grpc);
    if (c.code != StatusCode::kOk) {
      Status s(c.code, "msg");
      EXPECT_EQ(s.code(), c.code);
      EXPECT_EQ(s.to_string(), std::string(c.name) + ": msg");
    }
  }
}

TEST(StatusTest, HttpMappingSpelledOut) {
  EXPECT_EQ(http_status(StatusCode::kNotFound), 404);
  EXPECT_EQ(http_status(StatusCode::kUnavailable), 503);
  EXPECT_EQ(http_status(StatusCode::kResourceExhausted), 503);
  EXPECT_EQ(http_status(StatusCode::kUnimplemented), 501);
  EXPECT_EQ(http_status(StatusCode::kInternal), 500);
  EXPECT_EQ(http_status(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(http_status(StatusCode::kDeadlineExceeded), 400);
}

TEST(StatusTest, GrpcMappingSpelledOut) {
  EXPECT_EQ(grpc_status_code(StatusCode::kInvalidArgument), 3);
  EXPECT_EQ(grpc_status_code(StatusCode::kNotFound), 5);
  EXPECT_EQ(grpc_status_code(StatusCode::kUnavailable), 14);
  EXPECT_EQ(grpc_status_code(StatusCode::kInternal), 13);
  EXPECT_EQ(grpc_status_code(StatusCode::kUnimplemented), 12);
  EXPECT_EQ(grpc_status_code(StatusCode::kResourceExhausted), 8);
  EXPECT_EQ(grpc_status_code(StatusCode::kDeadlineExceeded), 4);
}

TEST(ResultTest, HoldsValue) {
  Result<std::string> r = std::string("hello");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value(), "hello");
  EXPECT_EQ(*r, "hello");
  EXPECT_EQ(r->size(), 5u);
  r.value() += "!";
  EXPECT_EQ(*r, "hello!");
  std::string moved = std::move(r).value();
  EXPECT_EQ(moved, "hello!");
}

TEST(ResultTest, HoldsStatus) {
  Result<int> r = NotFound("no such model");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "no such model");
}

TEST(ResultTest, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(42);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 42);
}

// Helpers exercising the macros.
Status check_positive(int x) { return x > 0 ? Status::Ok() : InvalidArgument("not positive"); }
int g_after_check = 0;

Status twice_checked(int x) {
  POLARIS_RETURN_IF_ERROR(check_positive(x));
  ++g_after_check;
  POLARIS_RETURN_IF_ERROR(check_positive(x - 10).with_context("second"));
  ++g_after_check;
  return Status::Ok();
}

Result<int> half(int x) {
  if (x % 2) return InvalidArgument("odd");
  return x / 2;
}

Result<int> quarter(int x) {
  POLARIS_ASSIGN_OR_RETURN(int h, half(x));
  POLARIS_ASSIGN_OR_RETURN(const int q, half(h));
  POLARIS_RETURN_IF_ERROR(check_positive(q));
  return q;
}

Result<std::unique_ptr<int>> boxed(int x) { return std::make_unique<int>(x); }

Status unbox_into(int x, int* out) {
  POLARIS_ASSIGN_OR_RETURN(auto p, boxed(x));  // moves a move-only value out
  *out = *p;
  return Status::Ok();
}

TEST(MacroTest, ReturnIfError) {
  g_after_check = 0;
  EXPECT_TRUE(twice_checked(20).ok());
  EXPECT_EQ(g_after_check, 2);

  g_after_check = 0;
  Status first = twice_checked(-1);
  EXPECT_EQ(first.message(), "not positive");
  EXPECT_EQ(g_after_check, 0);  // returned before the increment

  g_after_check = 0;
  Status second = twice_checked(5);
  EXPECT_EQ(second.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(second.message(), "second: not positive");
  EXPECT_EQ(g_after_check, 1);
}

TEST(MacroTest, AssignOrReturn) {
  auto ok = quarter(12);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3);
  auto first = quarter(7);
  EXPECT_EQ(first.status().message(), "odd");
  auto second = quarter(6);  // 6 -> 3 -> odd
  EXPECT_EQ(second.status().message(), "odd");
  auto nonpositive = quarter(0);  // 0 -> 0 -> 0: RETURN_IF_ERROR inside a Result function
  EXPECT_EQ(nonpositive.status().message(), "not positive");
  int out = 0;
  EXPECT_TRUE(unbox_into(9, &out).ok());
  EXPECT_EQ(out, 9);
}

}  // namespace
}  // namespace polaris
