// DataType <-> ONNX Runtime element types. ORT uses the ONNX file format's
// TensorProto numbers, which core already maps; the asserts pin that fact.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <optional>

#include "core/data_type.h"

namespace polaris::ort {

static_assert(ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT == 1 && ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 == 2 &&
              ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8 == 3 && ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16 == 4 &&
              ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16 == 5 && ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32 == 6 &&
              ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 == 7 && ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING == 8 &&
              ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL == 9 && ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 == 10 &&
              ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE == 11 && ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32 == 12 &&
              ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 == 13 && ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16 == 16,
              "ORT element types are the ONNX TensorProto numbers");

inline std::optional<DataType> from_ort(ONNXTensorElementDataType type) {
  return data_type_from_onnx(static_cast<int>(type));
}

inline ONNXTensorElementDataType to_ort(DataType type) {
  return static_cast<ONNXTensorElementDataType>(to_onnx_element_type(type));
}

}  // namespace polaris::ort
