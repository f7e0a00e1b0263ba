#include "runtime/model_config.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/reshape.h"

namespace polaris {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

template <typename ConfigTensor>
Shape shape_of(const ConfigTensor& t) {
  return Shape(std::vector<int64_t>(t.dims().begin(), t.dims().end()));
}

// Shaped like Triton's densenet_onnx example, with batching settings added.
constexpr const char* kDensenet = R"pb(
name: "densenet_onnx"
platform: "onnxruntime_onnx"
max_batch_size: 16
version_policy: { latest: { num_versions: 2 } }
input [
  {
    name: "data_0"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
  }
]
output [
  {
    name: "fc6_1"
    data_type: TYPE_FP32
    dims: [ 1000 ]
    label_filename: "densenet_labels.txt"
  }
]
instance_group [ { count: 2, kind: KIND_CPU } ]
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 100
  default_queue_policy { timeout_action: DELAY, max_queue_size: 64 }
}
)pb";

constexpr const char* kLibtorch = R"pb(
name: "resnet_pt"
platform: "pytorch_libtorch"
max_batch_size: 0
input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ -1, 3, 224, 224 ] } ]
output [ { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ -1, 1000 ] } ]
parameters: { key: "INFERENCE_MODE" value: { string_value: "true" } }
parameters: { key: "DISABLE_OPTIMIZED_EXECUTION" value: { string_value: "false" } }
model_transaction_policy { decoupled: false }
response_cache { enable: true }
)pb";

constexpr const char* kWarmup = R"pb(
name: "warm"
backend: "onnxruntime"
max_batch_size: 4
input [ { name: "x" data_type: TYPE_INT64 dims: [ 8 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 2 ] } ]
model_warmup [
  {
    name: "zeros"
    batch_size: 4
    count: 3
    inputs { key: "x" value: { data_type: TYPE_INT64 dims: [ 8 ] zero_data: true } }
  }
]
)pb";

inference::ModelConfig parse_ok(const char* text) {
  auto config = parse_model_config(text, "config.pbtxt");
  EXPECT_TRUE(config.ok()) << config.status().to_string();
  return config.ok() ? *config : inference::ModelConfig();
}

std::string parse_error(const std::string& text) {
  auto config = parse_model_config(text, "config.pbtxt");
  EXPECT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  return config.status().message();
}

// The densenet model as an ONNX backend would describe it.
ModelMetadata densenet_metadata() {
  ModelMetadata md;
  md.name = "densenet_onnx";
  md.framework = "onnx";
  md.inputs.push_back({"data_0", DataType::kFp32, Shape{-1, 3, 224, 224}, {}});
  md.outputs.push_back({"fc6_1", DataType::kFp32, Shape{-1, 1000}, {}});
  return md;
}

TEST(ModelConfig, ParsesOnnxDensenetConfig) {
  auto c = parse_ok(kDensenet);
  EXPECT_EQ(c.name(), "densenet_onnx");
  EXPECT_EQ(c.platform(), "onnxruntime_onnx");
  EXPECT_EQ(c.max_batch_size(), 16);
  ASSERT_TRUE(c.version_policy().has_latest());
  EXPECT_EQ(c.version_policy().latest().num_versions(), 2u);
  ASSERT_EQ(c.input_size(), 1);
  EXPECT_EQ(c.input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(c.input(0).format(), inference::ModelInput::FORMAT_NCHW);
  EXPECT_EQ(std::vector<int64_t>(c.input(0).dims().begin(), c.input(0).dims().end()),
            (std::vector<int64_t>{3, 224, 224}));
  ASSERT_EQ(c.output_size(), 1);
  EXPECT_EQ(c.output(0).dims(0), 1000);
  EXPECT_EQ(c.output(0).label_filename(), "densenet_labels.txt");
  ASSERT_EQ(c.instance_group_size(), 1);
  EXPECT_EQ(c.instance_group(0).kind(), inference::ModelInstanceGroup::KIND_CPU);
  EXPECT_EQ(c.instance_group(0).count(), 2);
  ASSERT_TRUE(c.has_dynamic_batching());
  EXPECT_EQ(c.dynamic_batching().preferred_batch_size_size(), 2);
  EXPECT_EQ(c.dynamic_batching().preferred_batch_size(1), 8);
  EXPECT_EQ(c.dynamic_batching().max_queue_delay_microseconds(), 100u);
  EXPECT_EQ(c.dynamic_batching().default_queue_policy().timeout_action(), inference::ModelQueuePolicy::DELAY);
  EXPECT_EQ(c.dynamic_batching().default_queue_policy().max_queue_size(), 64u);
}

TEST(ModelConfig, ParsesLibtorchConfigWithParameters) {
  auto c = parse_ok(kLibtorch);
  EXPECT_EQ(c.platform(), "pytorch_libtorch");
  EXPECT_EQ(c.max_batch_size(), 0);
  EXPECT_EQ(c.input(0).name(), "INPUT__0");
  EXPECT_EQ(c.output(0).name(), "OUTPUT__0");
  EXPECT_EQ(c.input(0).dims(0), -1);
  ASSERT_EQ(c.parameters().size(), 2u);
  EXPECT_EQ(c.parameters().at("INFERENCE_MODE").string_value(), "true");
  EXPECT_FALSE(c.model_transaction_policy().decoupled());
  EXPECT_TRUE(c.response_cache().enable());
}

TEST(ModelConfig, ParsesWarmupWithZeroData) {
  auto c = parse_ok(kWarmup);
  EXPECT_EQ(c.backend(), "onnxruntime");
  ASSERT_EQ(c.model_warmup_size(), 1);
  const auto& w = c.model_warmup(0);
  EXPECT_EQ(w.name(), "zeros");
  EXPECT_EQ(w.batch_size(), 4u);
  EXPECT_EQ(w.count(), 3u);
  ASSERT_EQ(w.inputs().count("x"), 1u);
  const auto& x = w.inputs().at("x");
  EXPECT_EQ(x.data_type(), inference::TYPE_INT64);
  EXPECT_EQ(x.input_data_type_case(), inference::ModelWarmup::Input::kZeroData);
  EXPECT_TRUE(x.zero_data());
}

TEST(ModelConfig, UnknownFieldIsAnErrorWithLineAndColumn) {
  const std::string msg = parse_error("name: \"m\"\nmax_batch_sise: 4\n");
  EXPECT_TRUE(Contains(msg, "config.pbtxt:2:")) << msg;
  EXPECT_TRUE(Contains(msg, "max_batch_sise")) << msg;
}

TEST(ModelConfig, BadEnumValueIsAnError) {
  const std::string msg = parse_error("input [ { name: \"x\" data_type: TYPE_FLOAT32 } ]");
  EXPECT_TRUE(Contains(msg, "config.pbtxt:1:")) << msg;
  EXPECT_TRUE(Contains(msg, "TYPE_FLOAT32")) << msg;
}

TEST(ModelConfig, WrongValueTypeIsAnError) {
  const std::string msg = parse_error("name: \"m\"\nmax_batch_size: \"eight\"\n");
  EXPECT_TRUE(Contains(msg, "config.pbtxt:2:")) << msg;
}

// Found by fuzz_model_config: such bytes were taken, and the config's JSON
// then reported names that were not the model's.
TEST(ModelConfig, StringsThatAreNotUtf8AreAnErrorNamingTheField) {
  EXPECT_TRUE(Contains(parse_error("name: \"a\\377b\""), "config.pbtxt: name is not valid UTF-8"));
  const std::string msg =
      parse_error("input [ { name: \"x\" }, { name: \"y\xC3\" } ] parameters { key: \"k\" value { string_value: \"v\" } }");
  EXPECT_TRUE(Contains(msg, "input[1].name is not valid UTF-8")) << msg;
  EXPECT_TRUE(Contains(parse_error("parameters { key: \"k\" value { string_value: \"\\355\\260\\200\" } }"),
                       "parameters[0].value.string_value"));
  EXPECT_TRUE(parse_model_config("name: \"caf\xC3\xA9\"", "config.pbtxt").ok());
}

TEST(ModelConfig, ReshapesMustKeepTheElementCountWithOneVariableDimAtMost) {
  auto check = [](const std::string& text) { return check_reshapes(parse_ok(text.c_str())); };
  EXPECT_TRUE(check("input { name: \"x\" dims: [3, 224, 224] reshape { shape: [1, 3, 224, 224] } }").ok());
  EXPECT_TRUE(check("input { name: \"x\" dims: [-1] reshape { shape: [1, -1] } }").ok());
  EXPECT_TRUE(check("output { name: \"y\" dims: [1000] reshape { shape: [1, 1000, 1, 1] } }").ok());
  EXPECT_TRUE(Contains(check("input { name: \"x\" dims: [3] reshape { shape: [1, 4] } }").message(),
                       "input 'x': dims [3] hold 3 elements, reshape [1,4] holds 4"));
  EXPECT_TRUE(Contains(check("output { name: \"y\" dims: [-1, -1] reshape { shape: [-1] } }").message(),
                       "at most one variable dim"));
  EXPECT_FALSE(check("input { name: \"x\" dims: [4] reshape { shape: [-2, 2] } }").ok());
}

TEST(ModelConfig, ReadsFilesAndReportsMissingOrHugeOnes) {
  const auto dir = std::filesystem::temp_directory_path() / ("polaris_model_config_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "config.pbtxt").string();
  std::ofstream(path) << kDensenet;
  auto ok = read_model_config(path);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->name(), "densenet_onnx");

  auto missing = read_model_config((dir / "nope.pbtxt").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.status().message(), "nope.pbtxt"));

  const auto huge = (dir / "huge.pbtxt").string();
  std::ofstream(huge) << std::string(kMaxModelConfigBytes + 1, ' ');
  auto too_big = read_model_config(huge);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

TEST(ModelConfig, ValidConfigMatchesItsModel) {
  EXPECT_TRUE(validate_model_config(parse_ok(kDensenet), densenet_metadata()).ok());
}

// With a reshape, the model is checked against the reshape's dims.
TEST(ModelConfig, ValidationUsesTheReshapeShape) {
  auto c = parse_ok(kDensenet);
  for (int64_t d : {1, 3, 224, 224}) c.mutable_input(0)->mutable_reshape()->add_shape(d);
  auto md = densenet_metadata();
  md.inputs[0].shape = Shape{-1, 1, 3, 224, 224};
  EXPECT_TRUE(validate_model_config(c, md).ok());
  const Status s = validate_model_config(c, densenet_metadata());
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.message(), "has dims [1,3,224,224] (plus the batch dim) but the model's shape is "
                                    "[-1,3,224,224]"))
      << s.message();
}

TEST(ModelConfig, ValidationNamesAMissingTensor) {
  auto c = parse_ok(kDensenet);
  c.mutable_input(0)->set_name("data");
  const Status s = validate_model_config(c, densenet_metadata());
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.message(), "'data'")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "data_0")) << s.message();  // lists the model's inputs
}

TEST(ModelConfig, ValidationNamesADtypeMismatch) {
  auto c = parse_ok(kDensenet);
  c.mutable_output(0)->set_data_type(inference::TYPE_FP16);
  const Status s = validate_model_config(c, densenet_metadata());
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.message(), "'fc6_1'")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "TYPE_FP16")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "TYPE_FP32")) << s.message();
}

TEST(ModelConfig, ValidationNamesADimsMismatch) {
  auto c = parse_ok(kDensenet);
  c.mutable_input(0)->set_dims(2, 225);
  const Status s = validate_model_config(c, densenet_metadata());
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.message(), "'data_0'")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "[3,224,225]")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "[-1,3,224,224]")) << s.message();
  // -1 in the config matches any model size.
  c.mutable_input(0)->set_dims(2, -1);
  EXPECT_TRUE(validate_model_config(c, densenet_metadata()).ok());
}

TEST(ModelConfig, BatchingNeedsADynamicFirstDim) {
  auto md = densenet_metadata();
  md.inputs[0].shape = Shape{1, 3, 224, 224};
  const Status s = validate_model_config(parse_ok(kDensenet), md);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.message(), "'data_0'")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "batch")) << s.message();
}

TEST(ModelConfig, CompletesFromADynamicBatchModel) {
  auto c = complete_model_config(inference::ModelConfig(), densenet_metadata());
  EXPECT_EQ(c.name(), "densenet_onnx");
  EXPECT_EQ(c.platform(), "onnxruntime_onnx");
  EXPECT_EQ(c.max_batch_size(), kDefaultMaxBatchSize);
  ASSERT_EQ(c.input_size(), 1);
  EXPECT_EQ(c.input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(shape_of(c.input(0)), (Shape{3, 224, 224}));
  EXPECT_EQ(shape_of(c.output(0)), (Shape{1000}));
  EXPECT_TRUE(validate_model_config(c, densenet_metadata()).ok());
}

TEST(ModelConfig, CompletesAStaticModelWithoutBatching) {
  auto md = densenet_metadata();
  md.framework = "torchscript";
  md.inputs[0].shape = Shape{1, 3, 224, 224};
  auto c = complete_model_config(inference::ModelConfig(), md);
  EXPECT_EQ(c.platform(), "pytorch_libtorch");
  EXPECT_EQ(c.max_batch_size(), 0);
  EXPECT_EQ(shape_of(c.input(0)), (Shape{1, 3, 224, 224}));
  EXPECT_EQ(shape_of(c.output(0)), (Shape{-1, 1000}));
}

TEST(ModelConfig, CompletionKeepsWhatTheConfigSets) {
  auto c = complete_model_config(parse_ok(kLibtorch), densenet_metadata());
  EXPECT_EQ(c.name(), "resnet_pt");
  EXPECT_EQ(c.max_batch_size(), 0);
  EXPECT_EQ(c.input(0).name(), "INPUT__0");
}

TEST(ModelConfig, JsonUsesEnumNamesAndNumericDims) {
  auto config = parse_ok(kDensenet);
  for (int64_t d : {1, 3, 224, 224}) config.mutable_input(0)->mutable_reshape()->add_shape(d);
  const auto json = nlohmann::json::parse(model_config_to_json(config));
  EXPECT_EQ(json["input"][0]["data_type"], "TYPE_FP32");
  EXPECT_EQ(json["input"][0]["dims"], nlohmann::json::parse("[3,224,224]"));
  EXPECT_EQ(json["input"][0]["reshape"]["shape"][0], 1);
  EXPECT_EQ(json["max_batch_size"], 16);
  EXPECT_EQ(json["dynamic_batching"]["max_queue_delay_microseconds"], 100);
  EXPECT_EQ(json["instance_group"][0]["kind"], "KIND_CPU");
  // Primitive fields at their default are printed, as Triton prints them.
  EXPECT_EQ(json["default_model_filename"], "");
  EXPECT_EQ(json["input"][0]["is_shape_tensor"], false);
  const auto zero = nlohmann::json::parse(model_config_to_json(parse_ok("name: \"m\"")));
  EXPECT_EQ(zero["max_batch_size"], 0);
}

}  // namespace
}  // namespace polaris
