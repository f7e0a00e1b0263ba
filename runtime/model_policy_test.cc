// Per-model policy parameters, warm-up samples and the statistics shape:
// pure functions, no engine.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/model_config.h"
#include "runtime/model_policy.h"
#include "runtime/model_statistics.h"
#include "runtime/warmup.h"

namespace polaris {
namespace {

using namespace std::chrono_literals;

inference::ModelConfig config(const std::string& text) {
  auto parsed = parse_model_config(text, "config.pbtxt");
  EXPECT_TRUE(parsed.ok()) << parsed.status().to_string();
  return parsed.ok() ? *parsed : inference::ModelConfig();
}

TEST(ModelPolicy, DurationsParseLikeOllamasKeepAlive) {
  EXPECT_EQ(parse_duration("0").value(), 0ms);
  EXPECT_EQ(parse_duration("250ms").value(), 250ms);
  EXPECT_EQ(parse_duration("30s").value(), 30s);
  EXPECT_EQ(parse_duration("5m").value(), 5min);
  EXPECT_EQ(parse_duration("1.5h").value(), 90min);
  EXPECT_EQ(parse_duration("12").value(), 12s);
  for (const char* bad : {"", "-1", "5 m", "m", "3d", "1e12"}) EXPECT_FALSE(parse_duration(bad).ok()) << bad;
}

TEST(ModelPolicy, ConfigParametersOverrideTheDefaults) {
  ModelPolicy defaults{false, 10min};
  auto plain = model_policy(config(""), defaults);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->pinned);
  EXPECT_EQ(plain->keep_alive, 10min);
  auto set = model_policy(config(R"(parameters { key: "polaris.pinned" value { string_value: "true" } }
parameters { key: "polaris.keep_alive" value { string_value: "0" } })"),
                          defaults);
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->pinned);
  EXPECT_EQ(set->keep_alive, 0ms);
  auto bad = model_policy(config(R"(parameters { key: "polaris.pinned" value { string_value: "yes" } })"), defaults);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("polaris.pinned"), std::string::npos);
  auto bad_time =
      model_policy(config(R"(parameters { key: "polaris.keep_alive" value { string_value: "soon" } })"), defaults);
  ASSERT_FALSE(bad_time.ok());
  EXPECT_NE(bad_time.status().message().find("polaris.keep_alive"), std::string::npos);
}

ModelMetadata image_model() {
  ModelMetadata md;
  md.inputs.push_back({"image", DataType::kFp32, Shape{-1, 3, 8, 8}, {}});
  md.inputs.push_back({"text", DataType::kBytes, Shape{-1}, {}});
  return md;
}

TEST(Warmup, DefaultIsOneZeroRequestWithDynamicDimsSetToOne) {
  auto samples = warmup_samples({}, image_model(), "/nonexistent");
  ASSERT_TRUE(samples.ok()) << samples.status().to_string();
  ASSERT_EQ(samples->size(), 1u);
  const auto& inputs = samples->at(0).inputs;
  ASSERT_EQ(inputs.size(), 2u);
  EXPECT_EQ(inputs[0].tensor.shape(), (Shape{1, 3, 8, 8}));
  const auto zeros = inputs[0].tensor.values<float>().value();
  for (float v : zeros) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(inputs[1].tensor.strings().value().at(0), "");
  EXPECT_FALSE(samples->at(0).from_config);

  ModelMetadata unknown;  // TorchScript before its first request
  unknown.inputs.push_back({"x", DataType::kInvalid, Shape{}, {}});
  EXPECT_TRUE(warmup_samples({}, unknown, "/nonexistent")->empty());
}

TEST(Warmup, ConfiguredSamplesFollowTritonsFields) {
  auto samples = warmup_samples(config(R"(max_batch_size: 8
model_warmup { name: "rand" batch_size: 4 count: 2
  inputs { key: "image" value { data_type: TYPE_FP32 dims: [3, 8, 8] random_data: true } } })"),
                                image_model(), "/nonexistent");
  ASSERT_TRUE(samples.ok()) << samples.status().to_string();
  const WarmupSample& s = samples->at(0);
  EXPECT_EQ(s.count, 2u);
  EXPECT_TRUE(s.from_config);
  EXPECT_EQ(s.inputs.at(0).tensor.shape(), (Shape{4, 3, 8, 8}));
  const auto values = s.inputs.at(0).tensor.values<float>().value();
  for (float v : values) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LT(v, 1.0f);
  }
}

TEST(Warmup, HostileSamplesAreRefused) {
  auto huge = warmup_samples(config(R"(model_warmup { name: "huge"
  inputs { key: "image" value { data_type: TYPE_FP32 dims: [100000, 100000] zero_data: true } } })"),
                             image_model(), "/nonexistent");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("256 MiB"), std::string::npos) << huge.status().message();
  auto escape = warmup_samples(config(R"(model_warmup { name: "escape"
  inputs { key: "image" value { data_type: TYPE_FP32 dims: [4] input_data_file: "../../etc/passwd" } } })"),
                               image_model(), "/tmp");
  ASSERT_FALSE(escape.ok());
  EXPECT_NE(escape.status().message().find("under warmup/"), std::string::npos) << escape.status().message();
  auto missing = warmup_samples(config(R"(model_warmup { name: "missing"
  inputs { key: "image" value { data_type: TYPE_FP32 dims: [4] input_data_file: "nothere.bin" } } })"),
                                image_model(), "/tmp");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nothere.bin"), std::string::npos);
  auto dynamic = warmup_samples(config(R"(model_warmup { name: "dyn"
  inputs { key: "image" value { data_type: TYPE_FP32 dims: [-1] zero_data: true } } })"),
                                image_model(), "/tmp");
  EXPECT_FALSE(dynamic.ok());
}

TEST(Statistics, JsonHasTheStatisticsExtensionShape) {
  ModelStatistics stats;
  ExecutionTiming timing;
  timing.batch_size = 4;
  timing.compute_infer = 3ms;
  stats.record_success(timing, 5ms);
  stats.record_failure(1ms);
  const auto json = statistics_to_json("m", "1", stats.snapshot());
  EXPECT_EQ(json["name"], "m");
  EXPECT_EQ(json["version"], "1");
  EXPECT_EQ(json["inference_count"], 4);
  EXPECT_EQ(json["execution_count"], 1);
  EXPECT_EQ(json["inference_stats"]["success"]["count"], 1);
  EXPECT_EQ(json["inference_stats"]["success"]["ns"], 5'000'000);
  EXPECT_EQ(json["inference_stats"]["fail"]["count"], 1);
  EXPECT_EQ(json["inference_stats"]["compute_infer"]["ns"], 3'000'000);
  for (const char* key : {"queue", "compute_input", "compute_output", "cache_hit", "cache_miss"})
    EXPECT_TRUE(json["inference_stats"].contains(key)) << key;
  ASSERT_EQ(json["batch_stats"].size(), 1u);
  EXPECT_EQ(json["batch_stats"][0]["batch_size"], 4);
  EXPECT_EQ(json["batch_stats"][0]["compute_infer"]["count"], 1);
  EXPECT_GT(json["last_inference"].get<uint64_t>(), 0u);
}

}  // namespace
}  // namespace polaris
