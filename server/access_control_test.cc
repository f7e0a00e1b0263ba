#include "server/access_control.h"

#include <gtest/gtest.h>

#include <vector>

namespace polaris {
namespace {

const std::string kAdmin = "admin-0123456789abcdef";
const std::string kInfer = "infer-0123456789abcdef";

AccessOptions options(std::string admin, std::string inference = "", bool allow = false) {
  AccessOptions o;
  o.admin_token = std::move(admin);
  o.inference_token = std::move(inference);
  o.allow_repository_changes = allow;
  return o;
}

AccessPolicy policy(const AccessOptions& o) {
  auto p = AccessPolicy::create(o);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return *p;
}

TEST(AccessPolicy, ByDefaultEverythingIsOpenButRepositoryChanges) {
  const AccessPolicy open;
  EXPECT_TRUE(open.check(Access::kHealth, "").ok());
  EXPECT_TRUE(open.check(Access::kInference, "").ok());
  const Status off = open.check(Access::kRepository, "Bearer " + kAdmin);
  EXPECT_EQ(off.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(off.message().find("--allow-repository-changes"), std::string::npos);
  EXPECT_TRUE(policy(options("", "", true)).check(Access::kRepository, "").ok());
}

TEST(AccessPolicy, TheAdminTokenIsRequiredAndGrantsInference) {
  const AccessPolicy p = policy(options(kAdmin));
  EXPECT_EQ(p.check(Access::kRepository, "").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(p.check(Access::kRepository, kAdmin).code(), StatusCode::kUnauthenticated);  // no scheme
  EXPECT_EQ(p.check(Access::kRepository, "Basic " + kAdmin).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(p.check(Access::kRepository, "Bearer " + kAdmin + "x").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(p.check(Access::kRepository, "Bearer " + kAdmin.substr(1)).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(p.check(Access::kRepository, "Bearer " + kAdmin).ok());
  EXPECT_TRUE(p.check(Access::kRepository, "bearer  " + kAdmin + " ").ok());  // scheme case, spaces
  EXPECT_TRUE(p.check(Access::kInference, "").ok());  // no inference token: open
}

TEST(AccessPolicy, TheInferenceTokenGuardsInferenceOnly) {
  const AccessPolicy p = policy(options(kAdmin, kInfer));
  EXPECT_TRUE(p.check(Access::kHealth, "").ok());
  EXPECT_EQ(p.check(Access::kInference, "").code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(p.check(Access::kInference, "Bearer " + kInfer).ok());
  EXPECT_TRUE(p.check(Access::kInference, "Bearer " + kAdmin).ok());
  EXPECT_EQ(p.check(Access::kRepository, "Bearer " + kInfer).code(), StatusCode::kPermissionDenied);
}

TEST(AccessPolicy, MessagesNeverQuoteTheToken) {
  const AccessPolicy p = policy(options(kAdmin));
  for (const std::string& sent :
       std::vector<std::string>{"Bearer wrong-token-0123456789", "Bearer " + kAdmin.substr(2), ""}) {
    const Status s = p.check(Access::kRepository, sent);
    EXPECT_EQ(s.message().find("0123456789"), std::string::npos) << s.message();
  }
}

TEST(AccessPolicy, UnusableTokensAreRefused) {
  EXPECT_FALSE(AccessPolicy::create(options("short")).ok());
  EXPECT_FALSE(AccessPolicy::create(options("", "has a space inside it")).ok());
  EXPECT_FALSE(AccessPolicy::create(options("tab\tinside-0123456789")).ok());
}

}  // namespace
}  // namespace polaris
