// DataType: the KServe v2 tensor element types and their facts.
//
// Names are the protocol's (BOOL ... BF16, BYTES). Engine mappings that need
// no engine header live here too: the ONNX TensorProto element numbers are
// part of the ONNX file format (ORT's ONNXTensorElementDataType uses the same
// values; the ORT backend static_asserts that). Torch's mapping lives in the
// torch backend. Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace polaris {

enum class DataType : uint8_t {
  kInvalid = 0,
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kFp32,
  kFp64,
  kBf16,
  kBytes,  // variable-length strings; element size 0
};

// 16-bit floats carried as raw bits: Polaris moves them, engines compute.
struct Fp16 { uint16_t bits; };
struct Bf16 { uint16_t bits; };

// "FP32"; "INVALID" for kInvalid.
std::string_view to_string(DataType type);
// Parses a KServe name ("FP32"); nullopt for anything else, kInvalid included.
std::optional<DataType> data_type_from_string(std::string_view name);

// Bytes per element; 0 for BYTES and INVALID (no fixed size).
std::size_t element_size(DataType type);
inline bool is_fixed_size(DataType type) { return element_size(type) != 0; }

// Triton model-config names ("TYPE_FP32"; BYTES is "TYPE_STRING").
std::string_view to_config_string(DataType type);
std::optional<DataType> data_type_from_config_string(std::string_view name);

// ONNX TensorProto.DataType numbers (FLOAT=1 ... BFLOAT16=16).
int to_onnx_element_type(DataType type);  // 0 (UNDEFINED) for kInvalid
std::optional<DataType> data_type_from_onnx(int onnx_element_type);

// The DataType a C++ element type stands for, for checked accessors.
template <typename T> struct DataTypeOf;
template <> struct DataTypeOf<bool> { static constexpr DataType value = DataType::kBool; };
template <> struct DataTypeOf<uint8_t> { static constexpr DataType value = DataType::kUint8; };
template <> struct DataTypeOf<uint16_t> { static constexpr DataType value = DataType::kUint16; };
template <> struct DataTypeOf<uint32_t> { static constexpr DataType value = DataType::kUint32; };
template <> struct DataTypeOf<uint64_t> { static constexpr DataType value = DataType::kUint64; };
template <> struct DataTypeOf<int8_t> { static constexpr DataType value = DataType::kInt8; };
template <> struct DataTypeOf<int16_t> { static constexpr DataType value = DataType::kInt16; };
template <> struct DataTypeOf<int32_t> { static constexpr DataType value = DataType::kInt32; };
template <> struct DataTypeOf<int64_t> { static constexpr DataType value = DataType::kInt64; };
template <> struct DataTypeOf<Fp16> { static constexpr DataType value = DataType::kFp16; };
template <> struct DataTypeOf<float> { static constexpr DataType value = DataType::kFp32; };
template <> struct DataTypeOf<double> { static constexpr DataType value = DataType::kFp64; };
template <> struct DataTypeOf<Bf16> { static constexpr DataType value = DataType::kBf16; };
static_assert(sizeof(bool) == 1, "BOOL tensors are one byte per element");

}  // namespace polaris
