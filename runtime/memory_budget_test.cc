// The budget accounting and the LRU eviction policy, as pure functions.
#include "runtime/memory_budget.h"

#include <gtest/gtest.h>

namespace polaris {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMiB = 1 << 20;

ResidentModel model(const std::string& name, uint64_t mib, int age_s, bool pinned = false, int in_flight = 0,
                    const std::string& device = "cpu") {
  // Older models have a smaller last_used: age_s seconds ago.
  return {name, device, mib * kMiB, pinned, in_flight, Clock::time_point{} + std::chrono::seconds(1000 - age_s)};
}

TEST(ByteSize, ParsesBinaryAndDecimalUnits) {
  EXPECT_EQ(parse_byte_size("6GiB").value(), 6ull << 30);
  EXPECT_EQ(parse_byte_size("6G").value(), 6ull << 30);
  EXPECT_EQ(parse_byte_size("512MiB").value(), 512ull << 20);
  EXPECT_EQ(parse_byte_size("1.5g").value(), 3ull << 29);
  EXPECT_EQ(parse_byte_size("2GB").value(), 2000000000ull);
  EXPECT_EQ(parse_byte_size("4096").value(), 4096ull);
  for (const char* bad : {"", "GiB", "6 GiB", "6XB", "-1G", "1e30", "99999999999T"})
    EXPECT_FALSE(parse_byte_size(bad).ok()) << bad;
  EXPECT_EQ(format_byte_size(3ull << 29), "1.5 GiB");
}

TEST(PlanEviction, NothingToDoWhenItFits) {
  auto plan = plan_eviction({model("a", 100, 10)}, "cpu", 1000 * kMiB, 200 * kMiB, std::nullopt, "new");
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->victims.empty());
}

TEST(PlanEviction, EvictsLeastRecentlyUsedFirstUntilItFits) {
  const std::vector<ResidentModel> resident{model("newest", 300, 1), model("oldest", 300, 30), model("middle", 300, 20)};
  // 900 used + 450 > 1000; without "oldest" 1050 still > 1000; without "middle" too, 750.
  auto plan = plan_eviction(resident, "cpu", 1000 * kMiB, 450 * kMiB, std::nullopt, "new");
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->victims, (std::vector<std::string>{"oldest", "middle"}));
  EXPECT_EQ(plan->freed_bytes, 600 * kMiB);
}

TEST(PlanEviction, NeverEvictsPinnedOrBusyModels) {
  const std::vector<ResidentModel> resident{model("pinned", 400, 50, /*pinned=*/true),
                                            model("busy", 400, 40, false, /*in_flight=*/2), model("idle", 100, 1)};
  // 900 used + 350 > 1200; only "idle" may go: 800 + 350 fits.
  auto plan = plan_eviction(resident, "cpu", 1200 * kMiB, 350 * kMiB, std::nullopt, "new");
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->victims, (std::vector<std::string>{"idle"}));
  auto impossible = plan_eviction(resident, "cpu", 1200 * kMiB, 500 * kMiB, std::nullopt, "new");
  ASSERT_EQ(impossible.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(impossible.status().message().find("pinned or busy"), std::string::npos);
}

TEST(PlanEviction, ATooLargeModelNamesBothNumbers) {
  auto plan = plan_eviction({}, "cpu", 1024 * kMiB, 2048 * kMiB, std::nullopt, "huge");
  ASSERT_EQ(plan.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(plan.status().message().find("2.0 GiB"), std::string::npos) << plan.status().message();
  EXPECT_NE(plan.status().message().find("1.0 GiB"), std::string::npos);
  EXPECT_NE(plan.status().message().find("never fit"), std::string::npos);
}

TEST(PlanEviction, OtherDevicesOnlyCountForMaxModels) {
  const std::vector<ResidentModel> resident{model("gpu-old", 500, 60, false, 0, "gpu:0"), model("cpu-new", 100, 1)};
  // Memory on cpu is fine; the count limit (2) forces one eviction: the LRU one, on any device.
  auto plan = plan_eviction(resident, "cpu", 1000 * kMiB, 100 * kMiB, std::size_t{2}, "new");
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->victims, (std::vector<std::string>{"gpu-old"}));
  EXPECT_EQ(plan->freed_bytes, 0u);  // not cpu memory
  // Memory short on cpu: the gpu model does not help, the cpu one does.
  auto memory = plan_eviction(resident, "cpu", 150 * kMiB, 100 * kMiB, std::nullopt, "new");
  ASSERT_TRUE(memory.ok());
  EXPECT_EQ(memory->victims, (std::vector<std::string>{"cpu-new"}));
}

TEST(MemoryTracker, ReserveUpdateRelease) {
  MemoryTracker tracker;
  tracker.set_budget("cpu", 1000);
  ASSERT_TRUE(tracker.reserve("a", "cpu", 600).ok());
  EXPECT_EQ(tracker.reserve("b", "cpu", 500).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(tracker.reserve("a", "cpu", 1).code(), StatusCode::kFailedPrecondition);
  tracker.update("a", 300);  // measured smaller than predicted
  EXPECT_EQ(tracker.used("cpu"), 300u);
  ASSERT_TRUE(tracker.reserve("b", "cpu", 500).ok());
  EXPECT_EQ(tracker.reserve("c", "gpu:0", 1).code(), StatusCode::kResourceExhausted);  // no gpu budget
  tracker.release("a");
  EXPECT_EQ(tracker.used("cpu"), 500u);
  EXPECT_FALSE(tracker.reserved("a").has_value());
  EXPECT_EQ(tracker.reserved("b").value(), 500u);
}

}  // namespace
}  // namespace polaris
