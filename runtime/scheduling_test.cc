// The pure parts of scheduling: stacking and slicing batches, reading the
// policy from a config, the adaptive batching decision, and where a
// config's instance groups place their instances.
#include <gtest/gtest.h>

#include "runtime/adaptive_batching.h"
#include "runtime/batching.h"
#include "runtime/model_config.h"
#include "runtime/model_loader.h"
#include "runtime/scheduling_policy.h"

namespace polaris {
namespace {

using namespace std::chrono_literals;

NamedTensors rows_of(std::vector<float> values, int64_t rows, const std::string& name = "x") {
  const int64_t cols = static_cast<int64_t>(values.size()) / rows;
  return {{name, *Tensor::from_values<float>(Shape{rows, cols}, values)}};
}

std::vector<float> floats(const Tensor& t) {
  auto v = t.values<float>();
  return {v->begin(), v->end()};
}

// The instances' first providers, in order ("cpu", "cuda:1", "" for defaults).
std::vector<std::string> placed(const std::string& config_text, int machine_gpus, int* asked = nullptr) {
  auto config = parse_model_config(config_text, "test");
  EXPECT_TRUE(config.ok()) << config.status().to_string();
  auto plan = plan_instances(*config, [&] {
    if (asked != nullptr) ++*asked;
    return machine_gpus;
  });
  EXPECT_TRUE(plan.ok()) << plan.status().to_string();
  std::vector<std::string> out;
  for (const auto& p : *plan) out.push_back(p.providers.empty() ? "" : p.providers.front());
  return out;
}

using Placed = std::vector<std::string>;

TEST(InstanceGroups, GpuCountIsPerListedGpuAsInTriton) {
  EXPECT_EQ(placed("instance_group { count: 2 kind: KIND_GPU gpus: [0, 1] }", 0),
            (Placed{"cuda:0", "cuda:0", "cuda:1", "cuda:1"}));
  EXPECT_EQ(placed("instance_group [ { count: 1 kind: KIND_GPU gpus: [0] }, { count: 2 kind: KIND_GPU gpus: [1, 2] } ]",
                   0),
            (Placed{"cuda:0", "cuda:1", "cuda:1", "cuda:2", "cuda:2"}));
}

TEST(InstanceGroups, GpuGroupWithoutGpusSpreadsOverTheMachinesGpus) {
  int asked = 0;
  EXPECT_EQ(placed("instance_group { count: 2 kind: KIND_GPU }", 3, &asked),
            (Placed{"cuda:0", "cuda:0", "cuda:1", "cuda:1", "cuda:2", "cuda:2"}));
  EXPECT_EQ(asked, 1);
  // No GPU here: GPU 0 is asked for, and the load falls back with the reason.
  EXPECT_EQ(placed("instance_group [ { count: 1 kind: KIND_GPU }, { count: 1 kind: KIND_CPU } ]", 0),
            (Placed{"cuda:0", "cpu"}));
  // Discovery is not run for configs that do not need it.
  asked = 0;
  EXPECT_EQ(placed("instance_group { count: 3 kind: KIND_CPU }", 2, &asked), (Placed{"cpu", "cpu", "cpu"}));
  EXPECT_EQ(placed("instance_group { kind: KIND_GPU gpus: [1] }", 2, &asked), (Placed{"cuda:1"}));
  EXPECT_EQ(placed("max_batch_size: 4", 2, &asked), (Placed{""}));
  EXPECT_EQ(asked, 0);
}

TEST(InstanceGroups, AbsurdGroupsAreRefused) {
  auto refused = [](const std::string& text) {
    auto plan = plan_instances(*parse_model_config(text, "test"), [] { return 8; });
    return plan.ok() ? std::string("accepted") : plan.status().message();
  };
  EXPECT_NE(refused("instance_group { count: -1 kind: KIND_CPU }").find("count must be >= 0"), std::string::npos);
  EXPECT_NE(refused("instance_group { count: 1 kind: KIND_GPU gpus: [-2] }").find("gpus must be >= 0"),
            std::string::npos);
  EXPECT_NE(refused("instance_group { count: 10 kind: KIND_GPU }").find("more than 64 instances"), std::string::npos);
}

TEST(Batching, StacksRequestsAlongDimZeroAndSlicesThemBack) {
  const NamedTensors a = rows_of({1, 2, 3, 4}, 2), b = rows_of({5, 6}, 1), c = rows_of({7, 8, 9, 10, 11, 12}, 3);
  EXPECT_EQ(batch_key(a.front().tensor.shape().rank() ? a : a, {}), batch_key(c, {}));
  auto stacked = stack_inputs({&a, &b, &c});
  ASSERT_TRUE(stacked.ok()) << stacked.status().message();
  EXPECT_EQ(stacked->front().tensor.shape(), (Shape{6, 2}));
  EXPECT_EQ(floats(stacked->front().tensor), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  // The "model" doubles its input; each request gets its own rows back.
  NamedTensors out = {{"y", *Tensor::from_values<float>(Shape{6, 2}, std::vector<float>{2, 4, 6, 8, 10, 12, 14, 16,
                                                                                           18, 20, 22, 24})}};
  auto mine = slice_outputs(out, 6, 2, 1);
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->front().tensor.shape(), (Shape{1, 2}));
  EXPECT_EQ(floats(mine->front().tensor), (std::vector<float>{10, 12}));
  auto last = slice_outputs(out, 6, 3, 3);
  EXPECT_EQ(floats(last->front().tensor), (std::vector<float>{14, 16, 18, 20, 22, 24}));
}

// Found by fuzz_tensor: requests that all send a batch dim of 0 make a
// batch of 0 rows, whose slices are empty (it divided by zero).
TEST(Batching, ABatchOfZeroRowsSlicesIntoEmptyShares) {
  NamedTensors out = {{"y", *Tensor::from_values<float>(Shape{0, 2}, std::vector<float>{})}};
  auto shares = split_outputs(out, {0, 0});
  ASSERT_EQ(shares.size(), 2u);
  for (const auto& share : shares) {
    ASSERT_TRUE(share.ok()) << share.status().message();
    EXPECT_EQ(share->front().tensor.shape(), (Shape{0, 2}));
    EXPECT_EQ(share->front().tensor.byte_size(), 0u);
  }
}

TEST(Batching, DifferentDimsOrOutputsNeverShareABatch) {
  EXPECT_NE(batch_key(rows_of({1, 2, 3, 4}, 2), {}), batch_key(rows_of({1, 2, 3, 4}, 1), {}));  // [2,2] vs [1,4]
  EXPECT_NE(batch_key(rows_of({1, 2}, 1), {"y"}), batch_key(rows_of({1, 2}, 1), {}));
  EXPECT_NE(batch_key(rows_of({1, 2}, 1, "x"), {}), batch_key(rows_of({1, 2}, 1, "z"), {}));
  NamedTensors ints = {{"x", *Tensor::from_values<int32_t>(Shape{1, 2}, {1, 2})}};
  EXPECT_NE(batch_key(ints, {}), batch_key(rows_of({1, 2}, 1), {}));
}

TEST(Batching, RowsComeFromEveryInputNotTheFirst) {
  NamedTensors honest = rows_of({1, 2, 3, 4}, 2, "a");
  honest.push_back(rows_of({5, 6, 7, 8}, 2, "b").front());
  EXPECT_EQ(batch_rows(honest).value(), 2);
  EXPECT_EQ(batch_rows({}).value(), 1);
  // a [2,2] with b [1,2]: the first input alone says 2 rows.
  NamedTensors dishonest = rows_of({1, 2, 3, 4}, 2, "a");
  dishonest.push_back(rows_of({5, 6}, 1, "b").front());
  auto rows = batch_rows(dishonest);
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(rows.status().message().find("input 'b' batch size does not match other inputs"), std::string::npos)
      << rows.status().message();
  // Stacked with an honest request, it is refused, not cut into its rows.
  NamedTensors other = rows_of({9, 10, 11, 12}, 2, "a");
  other.push_back(rows_of({13, 14, 15, 16}, 2, "b").front());
  EXPECT_FALSE(stack_inputs({&other, &dishonest}).ok());
  NamedTensors scalar = {{"s", *Tensor::from_values<float>(Shape{}, {1})}};
  EXPECT_FALSE(batch_rows(scalar).ok());
}

TEST(Batching, StringTensorsStackAndSliceByElement) {
  NamedTensors a = {{"s", *Tensor::from_strings(Shape{1, 2}, {"a", "bb"})}};
  NamedTensors b = {{"s", *Tensor::from_strings(Shape{2, 2}, {"ccc", "", "dddd", "e"})}};
  auto stacked = stack_inputs({&a, &b});
  ASSERT_TRUE(stacked.ok());
  auto all = stacked->front().tensor.strings();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 6u);
  auto second = slice_outputs(*stacked, 3, 1, 2);
  ASSERT_TRUE(second.ok());
  auto mine = second->front().tensor.strings();
  EXPECT_EQ(std::vector<std::string>(mine->begin(), mine->end()), (std::vector<std::string>{"ccc", "", "dddd", "e"}));
}

TEST(Batching, AnOutputWithoutTheBatchDimIsAnError) {
  NamedTensors out = {{"y", *Tensor::from_values<float>(Shape{1, 4}, {1, 2, 3, 4})}};
  auto sliced = slice_outputs(out, 3, 0, 1);
  ASSERT_FALSE(sliced.ok());
  EXPECT_NE(sliced.status().message().find("cannot be batched"), std::string::npos);
}

inference::ModelConfig config(const std::string& text) {
  auto c = parse_model_config(text, "test");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return *c;
}

TEST(SchedulingPolicy, ReadsDynamicBatchingAndQueuePolicies) {
  auto p = scheduling_policy_from_config(config(R"(
    max_batch_size: 16
    dynamic_batching {
      preferred_batch_size: [8, 4]
      max_queue_delay_microseconds: 500
      preserve_ordering: true
      priority_levels: 3
      default_priority_level: 2
      default_queue_policy { max_queue_size: 10 default_timeout_microseconds: 1000 }
      priority_queue_policy { key: 1 value { timeout_action: DELAY allow_timeout_override: true } }
    })"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE(p->dynamic_batching);
  EXPECT_EQ(p->preferred_batch_sizes, (std::vector<int>{4, 8}));
  EXPECT_EQ(p->max_queue_delay, 500us);
  EXPECT_TRUE(p->preserve_ordering);
  EXPECT_EQ(p->levels(), 3u);
  EXPECT_EQ(p->default_priority_level, 2u);
  EXPECT_EQ(p->queue_for(2).max_queue_size, 10u);
  EXPECT_EQ(p->queue_for(2).default_timeout, 1000us);
  EXPECT_TRUE(p->queue_for(1).delay_on_timeout);
  EXPECT_TRUE(p->queue_for(1).allow_timeout_override);
  EXPECT_EQ(p->queue_for(1).max_queue_size, 0u);
}

TEST(SchedulingPolicy, RejectsContradictions) {
  auto bad = [](const std::string& text) {
    auto p = scheduling_policy_from_config(config(text));
    EXPECT_FALSE(p.ok()) << text;
    return p.ok() ? std::string() : p.status().message();
  };
  EXPECT_NE(bad("max_batch_size: 4 dynamic_batching { preferred_batch_size: [8] }").find("preferred_batch_size 8"),
            std::string::npos);
  EXPECT_NE(bad("max_batch_size: 4 dynamic_batching { priority_levels: 2 default_priority_level: 3 }")
                .find("default_priority_level"),
            std::string::npos);
  EXPECT_NE(bad(R"(max_batch_size: 0 parameters { key: "polaris.latency_target_ms" value { string_value: "5" } })")
                .find("needs max_batch_size"),
            std::string::npos);
  EXPECT_NE(bad(R"(max_batch_size: 4 parameters { key: "polaris.latency_target_ms" value { string_value: "fast" } })")
                .find("positive number"),
            std::string::npos);
}

TEST(SchedulingPolicy, ReadsTheLatencyTarget) {
  auto p = scheduling_policy_from_config(
      config(R"(max_batch_size: 8 parameters { key: "polaris.latency_target_ms" value { string_value: "12.5" } })"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->latency_target, 12500us);
  EXPECT_FALSE(p->dynamic_batching);
}

// Engine time 10 ms + 2 ms per extra row: e(b) = 8 + 2b ms.
EngineTimeModel linear_engine() {
  EngineTimeModel m;
  for (int b : {1, 2, 4, 8, 16}) m.record(b, std::chrono::milliseconds(8 + 2 * b));
  return m;
}

TEST(AdaptiveBatching, RunsAtOnceBeforeAnythingIsMeasured) {
  const auto now = std::chrono::steady_clock::now();
  const auto d = decide_adaptive({100ms, 16, 3, now, now}, EngineTimeModel(), ArrivalGaps());
  EXPECT_TRUE(d.run_now);
  EXPECT_EQ(d.max_rows, 3);
}

TEST(AdaptiveBatching, CapsTheBatchSoTwoExecutionsFitTheTarget) {
  const auto now = std::chrono::steady_clock::now();
  ArrivalGaps fast;
  for (int i = 0; i < 20; ++i) fast.record(now - 2ms + std::chrono::microseconds(100 * i));
  // Target 60 ms: 2·e(b) <= 60 -> e(b) <= 30 -> 8 + 2b <= 30 -> cap 11. Rows per second grow
  // with b here, so the best measured size under the cap is 8, and 10 (between 8 and the
  // cap) was never tried: it is tried now.
  const auto full = decide_adaptive({60ms, 16, 12, now, now}, linear_engine(), fast);
  EXPECT_TRUE(full.run_now);
  EXPECT_EQ(full.max_rows, 10);
  // Target 100 ms: cap 16; the best measured is 16, and 12 (between 8 and 16) is untried:
  // bmax 12 (e = 32 ms), window 100 - 2·32 = 36 ms. Fewer waiting and arrivals quicker
  // than one execution: wait, but never past the window.
  const auto wait = decide_adaptive({100ms, 16, 3, now, now}, linear_engine(), fast);
  EXPECT_FALSE(wait.run_now);
  EXPECT_EQ(wait.max_rows, 12);
  EXPECT_GT(wait.wait_until, now);
  EXPECT_LE(wait.wait_until, now + 36ms);
}

TEST(AdaptiveBatching, SlowArrivalsAreNotKeptWaiting) {
  const auto now = std::chrono::steady_clock::now();
  ArrivalGaps slow;
  for (int i = 0; i < 10; ++i) slow.record(now - 1s + std::chrono::milliseconds(100 * i));  // 100 ms apart
  const auto d = decide_adaptive({500ms, 16, 1, now, now}, linear_engine(), slow);
  EXPECT_TRUE(d.run_now);  // one request every 100 ms, executions of 10 ms: batching gains nothing
  EXPECT_EQ(d.max_rows, 1);
}

TEST(AdaptiveBatching, AQuietSpellEndsTheWait) {
  const auto start = std::chrono::steady_clock::now();
  ArrivalGaps burst;
  for (int i = 0; i < 10; ++i) burst.record(start + std::chrono::microseconds(200 * i));
  const auto last = start + 1800us;
  // 2 ms after the last arrival (10x the typical gap), the burst is over: run.
  const auto d = decide_adaptive({1000ms, 16, 4, start, last + 2ms}, linear_engine(), burst);
  EXPECT_TRUE(d.run_now);
  EXPECT_EQ(d.max_rows, 4);
}

TEST(AdaptiveBatching, AimsAtTheSizeWithTheBestRowsPerSecond) {
  // As MobileNetV2 on a 2-core CPU: batches of 2 beat both 1 and larger batches.
  EngineTimeModel m;
  m.record(1, 12ms);   // 83 rows/s
  m.record(2, 20ms);   // 100 rows/s
  m.record(4, 48ms);   // 83 rows/s
  m.record(16, 220ms); // 73 rows/s
  EXPECT_EQ(m.best_size(16), 3);  // 3, between the best (2) and its neighbour 4, is untried
  m.record(3, 40ms);   // 75 rows/s
  EXPECT_EQ(m.best_size(16), 2);
  EXPECT_EQ(m.best_size(1), 1);
  EXPECT_EQ(EngineTimeModel().best_size(8), 8);  // nothing measured: the cap
}

TEST(AdaptiveBatching, UnmeasuredSizesAreEstimatedFromTheNearestOne) {
  EngineTimeModel m;
  m.record(4, 20ms);
  EXPECT_DOUBLE_EQ(*m.estimate_us(4), 20000.0);
  EXPECT_DOUBLE_EQ(*m.estimate_us(8), 40000.0);  // linear in rows from 4
  EXPECT_DOUBLE_EQ(*m.estimate_us(2), 10000.0);
  m.record(8, 24ms);
  EXPECT_DOUBLE_EQ(*m.estimate_us(6), 22000.0);  // between 4 and 8
}

}  // namespace
}  // namespace polaris
