#include "tensors.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstring>

#include "core/data_type.h"
#include "errors.h"

namespace nb = nanobind;

namespace polaris::python {
namespace {

using CpuArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

DataType data_type_of(const nb::dlpack::dtype& t, const std::string& name) {
  using Code = nb::dlpack::dtype_code;
  if (t.lanes == 1) {
    switch (static_cast<Code>(t.code)) {
      case Code::Bool:
        if (t.bits == 8) return DataType::kBool;
        break;
      case Code::Int:
        if (t.bits == 8) return DataType::kInt8;
        if (t.bits == 16) return DataType::kInt16;
        if (t.bits == 32) return DataType::kInt32;
        if (t.bits == 64) return DataType::kInt64;
        break;
      case Code::UInt:
        if (t.bits == 8) return DataType::kUint8;
        if (t.bits == 16) return DataType::kUint16;
        if (t.bits == 32) return DataType::kUint32;
        if (t.bits == 64) return DataType::kUint64;
        break;
      case Code::Float:
        if (t.bits == 16) return DataType::kFp16;
        if (t.bits == 32) return DataType::kFp32;
        if (t.bits == 64) return DataType::kFp64;
        break;
      case Code::Bfloat:
        if (t.bits == 16) return DataType::kBf16;
        break;
      default:
        break;
    }
  }
  raise(InvalidArgument("input '" + name + "': arrays of this element type (DLPack code " + std::to_string(t.code) +
                        ", " + std::to_string(t.bits) + " bits) have no KServe datatype"));
}

nb::dlpack::dtype dlpack_type_of(DataType type) {
  switch (type) {
    case DataType::kBool: return nb::dtype<bool>();
    case DataType::kInt8: return nb::dtype<int8_t>();
    case DataType::kInt16: return nb::dtype<int16_t>();
    case DataType::kInt32: return nb::dtype<int32_t>();
    case DataType::kInt64: return nb::dtype<int64_t>();
    case DataType::kUint8: return nb::dtype<uint8_t>();
    case DataType::kUint16: return nb::dtype<uint16_t>();
    case DataType::kUint32: return nb::dtype<uint32_t>();
    case DataType::kUint64: return nb::dtype<uint64_t>();
    case DataType::kFp16: return {static_cast<uint8_t>(nb::dlpack::dtype_code::Float), 16, 1};
    case DataType::kFp32: return nb::dtype<float>();
    case DataType::kFp64: return nb::dtype<double>();
    default: break;
  }
  raise(Internal("no numpy type for " + std::string(to_string(type))));
}

bool is_string_array(nb::handle value) {
  if (!nb::hasattr(value, "dtype") || !nb::hasattr(value, "shape")) return false;
  const std::string kind = nb::cast<std::string>(value.attr("dtype").attr("kind"));
  return kind == "O" || kind == "S" || kind == "U";
}

Tensor strings_tensor(const std::string& name, nb::handle array) {
  std::vector<int64_t> dims;
  for (nb::handle d : array.attr("shape")) dims.push_back(nb::cast<int64_t>(d));
  std::vector<std::string> values;
  for (nb::handle element : array.attr("ravel")().attr("tolist")()) {
    if (nb::isinstance<nb::bytes>(element))
      values.emplace_back(nb::cast<nb::bytes>(element).c_str(), nb::len(element));
    else if (nb::isinstance<nb::str>(element))
      values.push_back(nb::cast<std::string>(element));
    else
      raise(InvalidArgument("input '" + name + "': a string array may hold only bytes or str, not " +
                            nb::cast<std::string>(nb::str(element.type().attr("__name__")))));
  }
  return value_or_raise(Tensor::from_strings(Shape(dims), values));
}

}  // namespace

Tensor tensor_from_python(const std::string& name, nb::handle value) {
  if (is_string_array(value)) return strings_tensor(name, value);
  CpuArray array;
  // A C-contiguous CPU array is borrowed as it is (no copy). Anything else
  // (strided, a list) is converted, and the converted array dies with
  // `array` at the end of this call: its bytes are copied into the Tensor.
  const bool borrowed = nb::try_cast(value, array, /*convert=*/false);
  if (!borrowed && !nb::try_cast(value, array, /*convert=*/true))
    raise(InvalidArgument("input '" + name + "': expected a numpy array (C-contiguous, on the CPU), got " +
                          nb::cast<std::string>(nb::str(value.type().attr("__name__")))));
  std::vector<int64_t> dims;
  for (std::size_t i = 0; i < array.ndim(); ++i) dims.push_back(static_cast<int64_t>(array.shape(i)));
  const DataType type = data_type_of(array.dtype(), name);
  if (borrowed)  // read-only: engines read inputs and never write them
    return value_or_raise(Tensor::borrow(type, Shape(dims), const_cast<void*>(array.data()), array.nbytes()));
  return value_or_raise(Tensor::copy_of(type, Shape(dims), array.data(), array.nbytes()));
}

void relabel_bf16_inputs(NamedTensors& inputs, const ModelMetadata& metadata) {
  for (auto& input : inputs) {
    const TensorInfo* info = metadata.find_input(input.name);
    if (!info || info->dtype != DataType::kBf16 || input.tensor.dtype() != DataType::kUint16) continue;
    // The same bytes, read as bfloat16 bit patterns; the uint16 tensor (a
    // view or a copy) lives as long as the relabelled one.
    auto bits = std::make_shared<Tensor>(std::move(input.tensor));
    input.tensor =
        value_or_raise(Tensor::borrow(DataType::kBf16, bits->shape(), bits->mutable_data(), bits->byte_size(), bits));
  }
}

NamedTensors tensors_from_python(const std::vector<std::pair<std::string, nb::object>>& inputs) {
  NamedTensors tensors;
  tensors.reserve(inputs.size());
  for (const auto& [name, value] : inputs) tensors.push_back({name, tensor_from_python(name, value)});
  return tensors;
}

nb::object tensor_to_python(Tensor tensor) {
  const auto& dims = tensor.shape().dims();
  std::vector<std::size_t> shape(dims.begin(), dims.end());
  nb::module_ numpy = nb::module_::import_("numpy");
  if (tensor.dtype() == DataType::kBytes) {
    nb::list values;
    for (std::string_view s : value_or_raise(tensor.strings())) values.append(nb::bytes(s.data(), s.size()));
    nb::object flat = numpy.attr("array")(values, nb::arg("dtype") = numpy.attr("object_"));
    return flat.attr("reshape")(nb::cast(dims));
  }
  if (tensor.dtype() == DataType::kBf16) {
    // bfloat16 is the top half of a float32.
    std::vector<float> widened(tensor.byte_size() / 2);
    const auto* halves = static_cast<const uint16_t*>(tensor.data());
    for (std::size_t i = 0; i < widened.size(); ++i) {
      const uint32_t bits = static_cast<uint32_t>(halves[i]) << 16;
      std::memcpy(&widened[i], &bits, sizeof bits);
    }
    tensor = value_or_raise(Tensor::from_values(tensor.shape(), widened));
  }
  const nb::dlpack::dtype type = dlpack_type_of(tensor.dtype());
  auto* owner = new Tensor(std::move(tensor));
  nb::capsule keep(owner, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  return nb::ndarray<nb::numpy>(owner->mutable_data(), shape.size(), shape.data(), keep, nullptr, type).cast();
}

nb::list tensors_to_python(NamedTensors tensors) {
  nb::list out;
  for (auto& t : tensors) out.append(nb::make_tuple(t.name, tensor_to_python(std::move(t.tensor))));
  return out;
}

}  // namespace polaris::python
