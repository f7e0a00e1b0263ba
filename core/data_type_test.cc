#include "core/data_type.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace polaris {
namespace {

// One row per KServe type: the facts the protocol, Triton configs and the
// ONNX file format fix, written out independently of data_type.cc's table.
struct Expected {
  DataType type;
  const char* name;
  const char* config_name;
  std::size_t size;
  int onnx;
};

const std::vector<Expected>& all_types() {
  static const std::vector<Expected> kAll = {
      {DataType::kBool, "BOOL", "TYPE_BOOL", 1, 9},
      {DataType::kUint8, "UINT8", "TYPE_UINT8", 1, 2},
      {DataType::kUint16, "UINT16", "TYPE_UINT16", 2, 4},
      {DataType::kUint32, "UINT32", "TYPE_UINT32", 4, 12},
      {DataType::kUint64, "UINT64", "TYPE_UINT64", 8, 13},
      {DataType::kInt8, "INT8", "TYPE_INT8", 1, 3},
      {DataType::kInt16, "INT16", "TYPE_INT16", 2, 5},
      {DataType::kInt32, "INT32", "TYPE_INT32", 4, 6},
      {DataType::kInt64, "INT64", "TYPE_INT64", 8, 7},
      {DataType::kFp16, "FP16", "TYPE_FP16", 2, 10},
      {DataType::kFp32, "FP32", "TYPE_FP32", 4, 1},
      {DataType::kFp64, "FP64", "TYPE_FP64", 8, 11},
      {DataType::kBf16, "BF16", "TYPE_BF16", 2, 16},
      {DataType::kBytes, "BYTES", "TYPE_STRING", 0, 8},
  };
  return kAll;
}

TEST(DataTypeTest, CoversEveryEnumerator) {
  // kInvalid is 0 and kBytes the last value: the table above has them all.
  EXPECT_EQ(all_types().size(), static_cast<std::size_t>(DataType::kBytes));
}

TEST(DataTypeTest, ElementSizes) {
  for (const auto& e : all_types()) {
    SCOPED_TRACE(e.name);
    EXPECT_EQ(element_size(e.type), e.size);
    EXPECT_EQ(is_fixed_size(e.type), e.size != 0);
  }
  EXPECT_EQ(element_size(DataType::kInvalid), 0u);
  EXPECT_FALSE(is_fixed_size(DataType::kInvalid));
  EXPECT_FALSE(is_fixed_size(DataType::kBytes));
}

TEST(DataTypeTest, ElementSizesMatchCppTypes) {
  EXPECT_EQ(element_size(DataTypeOf<bool>::value), sizeof(bool));
  EXPECT_EQ(element_size(DataTypeOf<uint8_t>::value), sizeof(uint8_t));
  EXPECT_EQ(element_size(DataTypeOf<uint16_t>::value), sizeof(uint16_t));
  EXPECT_EQ(element_size(DataTypeOf<uint32_t>::value), sizeof(uint32_t));
  EXPECT_EQ(element_size(DataTypeOf<uint64_t>::value), sizeof(uint64_t));
  EXPECT_EQ(element_size(DataTypeOf<int8_t>::value), sizeof(int8_t));
  EXPECT_EQ(element_size(DataTypeOf<int16_t>::value), sizeof(int16_t));
  EXPECT_EQ(element_size(DataTypeOf<int32_t>::value), sizeof(int32_t));
  EXPECT_EQ(element_size(DataTypeOf<int64_t>::value), sizeof(int64_t));
  EXPECT_EQ(element_size(DataTypeOf<Fp16>::value), sizeof(Fp16));
  EXPECT_EQ(element_size(DataTypeOf<float>::value), sizeof(float));
  EXPECT_EQ(element_size(DataTypeOf<double>::value), sizeof(double));
  EXPECT_EQ(element_size(DataTypeOf<Bf16>::value), sizeof(Bf16));
  EXPECT_EQ(DataTypeOf<float>::value, DataType::kFp32);
  EXPECT_EQ(DataTypeOf<int64_t>::value, DataType::kInt64);
}

TEST(DataTypeTest, KServeNamesRoundTrip) {
  for (const auto& e : all_types()) {
    SCOPED_TRACE(e.name);
    EXPECT_EQ(to_string(e.type), e.name);
    auto parsed = data_type_from_string(e.name);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, e.type);
  }
  EXPECT_EQ(to_string(DataType::kInvalid), "INVALID");
}

TEST(DataTypeTest, UnknownKServeNamesRejected) {
  for (const char* name : {"", "INVALID", "fp32", "Fp32", "FLOAT", "FP32 ", " FP32", "STRING", "TYPE_FP32",
                           "INT128", "FP8"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(data_type_from_string(name).has_value());
  }
}

TEST(DataTypeTest, ConfigNamesRoundTrip) {
  for (const auto& e : all_types()) {
    SCOPED_TRACE(e.name);
    EXPECT_EQ(to_config_string(e.type), e.config_name);
    auto parsed = data_type_from_config_string(e.config_name);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, e.type);
  }
  EXPECT_EQ(to_config_string(DataType::kBytes), "TYPE_STRING");
  EXPECT_EQ(data_type_from_config_string("TYPE_STRING"), DataType::kBytes);
}

TEST(DataTypeTest, UnknownConfigNamesRejected) {
  EXPECT_EQ(to_config_string(DataType::kInvalid), "TYPE_INVALID");
  for (const char* name : {"", "TYPE_INVALID", "TYPE_BYTES", "FP32", "type_fp32", "TYPE_FP32x", "TYPE_"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(data_type_from_config_string(name).has_value());
  }
}

TEST(DataTypeTest, OnnxNumbersRoundTrip) {
  for (const auto& e : all_types()) {
    SCOPED_TRACE(e.name);
    EXPECT_EQ(to_onnx_element_type(e.type), e.onnx);
    auto parsed = data_type_from_onnx(e.onnx);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, e.type);
  }
}

TEST(DataTypeTest, OnnxNumbersSpelledOut) {
  // TensorProto.DataType, from onnx.proto.
  EXPECT_EQ(to_onnx_element_type(DataType::kFp32), 1);    // FLOAT
  EXPECT_EQ(to_onnx_element_type(DataType::kUint8), 2);   // UINT8
  EXPECT_EQ(to_onnx_element_type(DataType::kInt8), 3);    // INT8
  EXPECT_EQ(to_onnx_element_type(DataType::kUint16), 4);  // UINT16
  EXPECT_EQ(to_onnx_element_type(DataType::kInt16), 5);   // INT16
  EXPECT_EQ(to_onnx_element_type(DataType::kInt32), 6);   // INT32
  EXPECT_EQ(to_onnx_element_type(DataType::kInt64), 7);   // INT64
  EXPECT_EQ(to_onnx_element_type(DataType::kBytes), 8);   // STRING
  EXPECT_EQ(to_onnx_element_type(DataType::kBool), 9);    // BOOL
  EXPECT_EQ(to_onnx_element_type(DataType::kFp16), 10);   // FLOAT16
  EXPECT_EQ(to_onnx_element_type(DataType::kFp64), 11);   // DOUBLE
  EXPECT_EQ(to_onnx_element_type(DataType::kUint32), 12); // UINT32
  EXPECT_EQ(to_onnx_element_type(DataType::kUint64), 13); // UINT64
  EXPECT_EQ(to_onnx_element_type(DataType::kBf16), 16);   // BFLOAT16
}

TEST(DataTypeTest, UnknownOnnxNumbersRejected) {
  EXPECT_EQ(to_onnx_element_type(DataType::kInvalid), 0);  // UNDEFINED
  // 0 UNDEFINED, 14/15 COMPLEX64/128, 17+ the float8 and int4 types.
  for (int n : {0, 14, 15, 17, 18, 19, 20, 21, 22, -1, 1000}) {
    SCOPED_TRACE(n);
    EXPECT_FALSE(data_type_from_onnx(n).has_value());
  }
}

}  // namespace
}  // namespace polaris
