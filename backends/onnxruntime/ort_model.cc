#include "backends/onnxruntime/ort_model.h"

#include <cstring>

#include "backends/onnxruntime/ort_types.h"

namespace polaris::ort {

OrtModel::OrtModel(std::unique_ptr<Ort::Session> session, ModelMetadata metadata)
    : session_(std::move(session)),
      metadata_(std::move(metadata)),
      cpu_memory_(Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU)) {}

Status OrtModel::validate_inputs(const NamedTensors& inputs) const {
  for (const auto& in : inputs) {
    const TensorInfo* info = metadata_.find_input(in.name);
    if (info == nullptr) return InvalidArgument("model '" + metadata_.name + "' has no input named '" + in.name + "'");
    if (in.tensor.dtype() != info->dtype)
      return InvalidArgument("input '" + in.name + "': expected datatype " + std::string(to_string(info->dtype)) +
                             ", got " + std::string(to_string(in.tensor.dtype())));
    if (!in.tensor.shape().matches(info->shape))
      return InvalidArgument("input '" + in.name + "': expected shape " + info->shape.to_string() + ", got " +
                             in.tensor.shape().to_string());
  }
  for (const auto& info : metadata_.inputs) {
    bool given = false;
    for (const auto& in : inputs) given |= in.name == info.name;
    if (!given) return InvalidArgument("model '" + metadata_.name + "' needs input '" + info.name + "'");
  }
  return Status::Ok();
}

Result<Ort::Value> OrtModel::to_ort_value(const Tensor& tensor) const {
  const auto& dims = tensor.shape().dims();
  if (tensor.dtype() == DataType::kBytes) {
    // ORT keeps std::string elements: strings are the one input we copy.
    POLARIS_ASSIGN_OR_RETURN(auto elements, tensor.strings());
    Ort::AllocatorWithDefaultOptions allocator;
    auto value = Ort::Value::CreateTensor(allocator, dims.data(), dims.size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING);
    for (std::size_t i = 0; i < elements.size(); ++i) {
      char* buffer = nullptr;
      Ort::ThrowOnError(
          Ort::GetApi().GetResizedStringTensorElementBuffer(value, i, elements[i].size(), &buffer));
      if (!elements[i].empty()) std::memcpy(buffer, elements[i].data(), elements[i].size());
    }
    return value;
  }
  // CreateTensorWithDataAsOrtValue: ORT reads the caller's buffer in place.
  // It takes a non-const pointer but never writes an input.
  return Ort::Value::CreateTensor(cpu_memory_, const_cast<void*>(tensor.data()), tensor.byte_size(), dims.data(),
                                  dims.size(), to_ort(tensor.dtype()));
}

Result<Tensor> OrtModel::from_ort_value(Ort::Value value) const {
  if (!value.IsTensor()) return Internal("model '" + metadata_.name + "' produced a non-tensor output");
  auto info = value.GetTensorTypeAndShapeInfo();
  const Shape shape(info.GetShape());
  auto dtype = from_ort(info.GetElementType());
  if (!dtype) return Internal("model '" + metadata_.name + "' produced an unsupported element type");
  if (*dtype == DataType::kBytes) {
    const std::size_t count = info.GetElementCount();
    const std::size_t total = value.GetStringTensorDataLength();
    std::string chars(total, '\0');
    std::vector<std::size_t> offsets(count);
    if (count) value.GetStringTensorContent(chars.data(), total, offsets.data(), count);
    std::vector<std::string_view> elements;
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t end = i + 1 < count ? offsets[i + 1] : total;
      elements.emplace_back(chars.data() + offsets[i], end - offsets[i]);
    }
    const std::string buffer = serialize_bytes_elements(elements);
    return Tensor::copy_of(DataType::kBytes, shape, buffer.data(), buffer.size());
  }
  // Zero copy: the returned tensor keeps the OrtValue (and its buffer) alive.
  auto owner = std::make_shared<Ort::Value>(std::move(value));
  POLARIS_ASSIGN_OR_RETURN(std::size_t bytes, shape.byte_size(*dtype));
  void* data = bytes ? owner->GetTensorMutableRawData() : nullptr;
  return Tensor::borrow(*dtype, shape, data, bytes, owner);
}

Result<NamedTensors> OrtModel::run(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs) {
  POLARIS_RETURN_IF_ERROR(validate_inputs(inputs));
  std::vector<const char*> output_names;
  output_names.reserve(requested_outputs.empty() ? metadata_.outputs.size() : requested_outputs.size());
  if (requested_outputs.empty()) {
    for (const auto& o : metadata_.outputs) output_names.push_back(o.name.c_str());
  } else {
    for (const auto& name : requested_outputs) {
      const TensorInfo* info = metadata_.find_output(name);
      if (info == nullptr) return InvalidArgument("model '" + metadata_.name + "' has no output named '" + name + "'");
      output_names.push_back(info->name.c_str());
    }
  }
  try {
    std::vector<const char*> input_names;
    std::vector<Ort::Value> values;
    input_names.reserve(inputs.size());
    values.reserve(inputs.size());
    for (const auto& in : inputs) {
      POLARIS_ASSIGN_OR_RETURN(Ort::Value v, to_ort_value(in.tensor));
      input_names.push_back(in.name.c_str());
      values.push_back(std::move(v));
    }
    auto outputs = session_->Run(Ort::RunOptions{nullptr}, input_names.data(), values.data(), values.size(),
                                 output_names.data(), output_names.size());
    NamedTensors result;
    result.reserve(outputs.size());
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      POLARIS_ASSIGN_OR_RETURN(Tensor t, from_ort_value(std::move(outputs[i])));
      result.push_back({output_names[i], std::move(t)});
    }
    return result;
  } catch (const Ort::Exception& e) {
    // Shapes that pass validation can still be wrong for the graph (e.g. a
    // Reshape): ORT reports it as INVALID_ARGUMENT or a runtime failure.
    const bool caller_fault = e.GetOrtErrorCode() == ORT_INVALID_ARGUMENT;
    return Status(caller_fault ? StatusCode::kInvalidArgument : StatusCode::kInternal,
                  "model '" + metadata_.name + "': " + e.what());
  }
}

}  // namespace polaris::ort
