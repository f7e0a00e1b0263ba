#include "core/model_metadata.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace polaris {
namespace {

using nlohmann::json;

ModelMetadata resnet() {
  ModelMetadata m;
  m.name = "resnet50";
  m.framework = "onnx";
  m.path = "/models/resnet50.onnx";
  m.inputs = {{"input", DataType::kFp32, Shape{-1, 3, 224, 224}, {"batch", "", "", ""}}};
  m.outputs = {{"logits", DataType::kFp32, Shape{-1, 1000}, {}},
               {"label", DataType::kBytes, Shape{-1}, {}}};
  m.file_size_bytes = 100 * 1024 * 1024;          // 100 MiB
  m.predicted_memory_bytes = 3 * 512 * 1024;      // 1.5 MiB
  m.measured_memory_bytes = 256 * 1024 * 1024;    // 256 MiB
  m.provider = "CPUExecutionProvider";
  m.optimization_level = 99;
  m.extra_info = {{"opset", "17"}, {"producer", "pytorch"}};
  return m;
}

TEST(ModelMetadataTest, FindInputAndOutput) {
  const ModelMetadata m = resnet();
  const TensorInfo* in = m.find_input("input");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in, &m.inputs[0]);
  EXPECT_EQ(in->dtype, DataType::kFp32);
  const TensorInfo* label = m.find_output("label");
  ASSERT_NE(label, nullptr);
  EXPECT_EQ(label, &m.outputs[1]);
  EXPECT_EQ(label->dtype, DataType::kBytes);
  // Inputs and outputs are separate namespaces; lookups are exact.
  EXPECT_EQ(m.find_input("logits"), nullptr);
  EXPECT_EQ(m.find_output("input"), nullptr);
  EXPECT_EQ(m.find_input("Input"), nullptr);
  EXPECT_EQ(m.find_input(""), nullptr);
  EXPECT_EQ(ModelMetadata().find_output("logits"), nullptr);
}

TEST(ModelMetadataTest, DefaultsAreEmpty) {
  const ModelMetadata m;
  EXPECT_TRUE(m.inputs.empty());
  EXPECT_EQ(m.file_size_bytes, 0u);
  EXPECT_EQ(m.optimization_level, 0);
  EXPECT_EQ(TensorInfo().dtype, DataType::kInvalid);
}

TEST(ModelMetadataTest, JsonHasTheSeedFields) {
  const json j = to_json(resnet());
  for (const char* key : {"name", "framework", "input_names", "output_names", "input_shapes", "output_shapes",
                          "input_dtypes", "output_dtypes", "file_size_mb", "estimated_memory_mb", "provider",
                          "optimization_level", "extra_info"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["name"], "resnet50");
  EXPECT_EQ(j["framework"], "onnx");
  EXPECT_EQ(j["provider"], "CPUExecutionProvider");
  EXPECT_EQ(j["optimization_level"], 99);
  EXPECT_EQ(j["input_names"], json::parse(R"(["input"])"));
  EXPECT_EQ(j["output_names"], json::parse(R"(["logits","label"])"));
  EXPECT_EQ(j["input_shapes"], json::parse("[[-1,3,224,224]]"));
  EXPECT_EQ(j["output_shapes"], json::parse("[[-1,1000],[-1]]"));
  EXPECT_EQ(j["input_dtypes"], json::parse(R"(["FP32"])"));
  EXPECT_EQ(j["output_dtypes"], json::parse(R"(["FP32","BYTES"])"));
  EXPECT_EQ(j["extra_info"], json::parse(R"({"opset":"17","producer":"pytorch"})"));
}

TEST(ModelMetadataTest, JsonSizesInMiBAndBytes) {
  const json j = to_json(resnet());
  ASSERT_TRUE(j["file_size_mb"].is_number());
  EXPECT_DOUBLE_EQ(j["file_size_mb"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(j["estimated_memory_mb"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["measured_memory_mb"].get<double>(), 256.0);
  EXPECT_EQ(j["file_size_bytes"].get<uint64_t>(), 100u * 1024 * 1024);
  EXPECT_EQ(j["predicted_memory_bytes"].get<uint64_t>(), 3u * 512 * 1024);
  EXPECT_EQ(j["measured_memory_bytes"].get<uint64_t>(), 256u * 1024 * 1024);
  EXPECT_EQ(j["path"], "/models/resnet50.onnx");
}

TEST(ModelMetadataTest, JsonTensorDetail) {
  const json j = to_json(resnet());
  ASSERT_TRUE(j["inputs"].is_array());
  ASSERT_EQ(j["inputs"].size(), 1u);
  ASSERT_EQ(j["outputs"].size(), 2u);
  const json& in = j["inputs"][0];
  EXPECT_EQ(in["name"], "input");
  EXPECT_EQ(in["datatype"], "FP32");
  EXPECT_EQ(in["shape"], json::parse("[-1,3,224,224]"));
  EXPECT_EQ(in["dim_names"], json::parse(R"(["batch","","",""])"));
  const json& label = j["outputs"][1];
  EXPECT_EQ(label["name"], "label");
  EXPECT_EQ(label["datatype"], "BYTES");
  EXPECT_FALSE(label.contains("dim_names"));
}

TEST(ModelMetadataTest, DimNamesOnlyWhenSet) {
  TensorInfo plain{"x", DataType::kInt64, Shape{2, 3}, {}};
  const json a = to_json(plain);
  EXPECT_EQ(a, json::parse(R"({"name":"x","datatype":"INT64","shape":[2,3]})"));
  EXPECT_FALSE(a.contains("dim_names"));
  TensorInfo named{"y", DataType::kFp16, Shape{-1, -1}, {"batch", "seq"}};
  const json b = to_json(named);
  ASSERT_TRUE(b.contains("dim_names"));
  EXPECT_EQ(b["dim_names"], json::parse(R"(["batch","seq"])"));
  // Scalars serialise as an empty shape.
  EXPECT_EQ(to_json(TensorInfo{"s", DataType::kBool, Shape(), {}})["shape"], json::array());
}

TEST(ModelMetadataTest, JsonOfEmptyModel) {
  const json j = to_json(ModelMetadata());
  EXPECT_EQ(j["name"], "");
  EXPECT_EQ(j["input_names"], json::array());
  EXPECT_EQ(j["output_shapes"], json::array());
  EXPECT_EQ(j["inputs"], json::array());
  EXPECT_EQ(j["extra_info"], json::object());
  EXPECT_DOUBLE_EQ(j["file_size_mb"].get<double>(), 0.0);
  EXPECT_EQ(j["optimization_level"], 0);
}

TEST(ModelMetadataTest, JsonRoundTripsThroughText) {
  const json j = to_json(resnet());
  EXPECT_EQ(json::parse(j.dump()), j);
}

}  // namespace
}  // namespace polaris
