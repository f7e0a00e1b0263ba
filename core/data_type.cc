#include "core/data_type.h"

#include <array>

namespace polaris {
namespace {

struct TypeFacts {
  DataType type;
  std::string_view name;
  std::string_view config_name;
  std::size_t size;
  int onnx;  // TensorProto.DataType
};

// One row per type: the single table every mapping reads.
constexpr std::array<TypeFacts, 14> kTypes{{
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
}};

const TypeFacts* facts(DataType type) {
  for (const auto& f : kTypes)
    if (f.type == type) return &f;
  return nullptr;
}

}  // namespace

std::string_view to_string(DataType type) {
  const auto* f = facts(type);
  return f ? f->name : "INVALID";
}

std::optional<DataType> data_type_from_string(std::string_view name) {
  for (const auto& f : kTypes)
    if (f.name == name) return f.type;
  return std::nullopt;
}

std::size_t element_size(DataType type) {
  const auto* f = facts(type);
  return f ? f->size : 0;
}

std::string_view to_config_string(DataType type) {
  const auto* f = facts(type);
  return f ? f->config_name : "TYPE_INVALID";
}

std::optional<DataType> data_type_from_config_string(std::string_view name) {
  for (const auto& f : kTypes)
    if (f.config_name == name) return f.type;
  return std::nullopt;
}

int to_onnx_element_type(DataType type) {
  const auto* f = facts(type);
  return f ? f->onnx : 0;
}

std::optional<DataType> data_type_from_onnx(int onnx_element_type) {
  for (const auto& f : kTypes)
    if (f.onnx == onnx_element_type) return f.type;
  return std::nullopt;
}

}  // namespace polaris
