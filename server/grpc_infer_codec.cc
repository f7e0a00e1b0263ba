#include "server/grpc_infer_codec.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/quote.h"
#include "runtime/triton_messages.h"
#include "server/inference_service.h"
#include "server/wire_tensor.h"

namespace polaris {
namespace {

using InputMessage = inference::ModelInferRequest::InferInputTensor;
using google::protobuf::RepeatedField;
using google::protobuf::RepeatedPtrField;

Status input_error(const std::string& input, std::string_view what) {
  return InvalidArgument(fmt::format("input {} {}", in_quotes(input), what));
}

Result<ParameterValue> parameter_value(const inference::InferParameter& p, const std::string& key) {
  switch (p.parameter_choice_case()) {
    case inference::InferParameter::kBoolParam: return ParameterValue(p.bool_param());
    case inference::InferParameter::kInt64Param: return ParameterValue(p.int64_param());
    case inference::InferParameter::kStringParam: return ParameterValue(p.string_param());
    case inference::InferParameter::kDoubleParam: return ParameterValue(p.double_param());
    case inference::InferParameter::kUint64Param: return ParameterValue(p.uint64_param());
    case inference::InferParameter::PARAMETER_CHOICE_NOT_SET: break;
  }
  return InvalidArgument("parameter " + in_quotes(key) + " has no value");
}

// The classification extension's class count: an int64 (what tritonclient
// sends for class_count) or uint64 from 1 to 2^32-1.
Result<uint32_t> classification_count(const inference::InferParameter& p, const std::string& output) {
  int64_t k = -1;
  if (p.parameter_choice_case() == inference::InferParameter::kInt64Param) k = p.int64_param();
  if (p.parameter_choice_case() == inference::InferParameter::kUint64Param &&
      p.uint64_param() <= std::numeric_limits<uint32_t>::max())
    k = static_cast<int64_t>(p.uint64_param());
  if (k < 1 || k > std::numeric_limits<uint32_t>::max())
    return InvalidArgument("output " + in_quotes(output) + ": parameter 'classification' must be an integer from 1 to 2^32-1");
  return static_cast<uint32_t>(k);
}

// The typed-contents fields that hold values, by their protocol names.
std::vector<std::string_view> populated_fields(const inference::InferTensorContents& c) {
  std::vector<std::string_view> names;
  if (c.bool_contents_size()) names.push_back("bool_contents");
  if (c.int_contents_size()) names.push_back("int_contents");
  if (c.int64_contents_size()) names.push_back("int64_contents");
  if (c.uint_contents_size()) names.push_back("uint_contents");
  if (c.uint64_contents_size()) names.push_back("uint64_contents");
  if (c.fp32_contents_size()) names.push_back("fp32_contents");
  if (c.fp64_contents_size()) names.push_back("fp64_contents");
  if (c.bytes_contents_size()) names.push_back("bytes_contents");
  return names;
}

// The field that carries `type` in InferTensorContents; empty for FP16/BF16.
std::string_view contents_field(DataType type) {
  switch (type) {
    case DataType::kBool: return "bool_contents";
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32: return "uint_contents";
    case DataType::kUint64: return "uint64_contents";
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32: return "int_contents";
    case DataType::kInt64: return "int64_contents";
    case DataType::kFp32: return "fp32_contents";
    case DataType::kFp64: return "fp64_contents";
    case DataType::kBytes: return "bytes_contents";
    default: return "";
  }
}

Status check_value_count(int64_t have, int64_t need, std::string_view field, const Shape& shape,
                         const std::string& input) {
  if (have == need) return Status::Ok();
  return input_error(input, fmt::format("has {} values in {}, its shape {} needs {}", have, field,
                                        shape.to_string(), need));
}

// Copies wire values into a new tensor of `type`, narrowing the widened
// 8- and 16-bit integers after checking that each value fits.
template <typename Element, typename Wire>
Result<Tensor> copy_values(const RepeatedField<Wire>& values, DataType type, const Shape& shape, int64_t count,
                           const std::string& input) {
  POLARIS_RETURN_IF_ERROR(check_value_count(values.size(), count, contents_field(type), shape, input));
  POLARIS_ASSIGN_OR_RETURN(Tensor tensor, Tensor::allocate(type, shape));
  POLARIS_ASSIGN_OR_RETURN(std::span<Element> out, tensor.mutable_values<Element>());
  for (int i = 0; i < values.size(); ++i) {
    if constexpr (std::is_integral_v<Element> && !std::is_same_v<Element, bool>) {
      if (!std::in_range<Element>(values[i]))
        return input_error(input, fmt::format("value {} does not fit {}", values[i], to_string(type)));
    }
    out[i] = static_cast<Element>(values[i]);
  }
  return tensor;
}

Result<Tensor> decode_typed_input(const InputMessage& input, DataType type, const Shape& shape, int64_t count) {
  const std::string& name = input.name();
  const inference::InferTensorContents& c = input.contents();
  const std::string_view field = contents_field(type);
  if (field.empty())
    return input_error(name, fmt::format("is {}: send it in raw_input_contents (it has no typed contents field)",
                                         to_string(type)));
  for (std::string_view populated : populated_fields(c))
    if (populated != field)
      return input_error(name, fmt::format("is {} but carries {}; {} values go in {}", to_string(type), populated,
                                           to_string(type), field));
  switch (type) {
    case DataType::kBool: return copy_values<bool>(c.bool_contents(), type, shape, count, name);
    case DataType::kUint8: return copy_values<uint8_t>(c.uint_contents(), type, shape, count, name);
    case DataType::kUint16: return copy_values<uint16_t>(c.uint_contents(), type, shape, count, name);
    case DataType::kUint32: return copy_values<uint32_t>(c.uint_contents(), type, shape, count, name);
    case DataType::kUint64: return copy_values<uint64_t>(c.uint64_contents(), type, shape, count, name);
    case DataType::kInt8: return copy_values<int8_t>(c.int_contents(), type, shape, count, name);
    case DataType::kInt16: return copy_values<int16_t>(c.int_contents(), type, shape, count, name);
    case DataType::kInt32: return copy_values<int32_t>(c.int_contents(), type, shape, count, name);
    case DataType::kInt64: return copy_values<int64_t>(c.int64_contents(), type, shape, count, name);
    case DataType::kFp32: return copy_values<float>(c.fp32_contents(), type, shape, count, name);
    case DataType::kFp64: return copy_values<double>(c.fp64_contents(), type, shape, count, name);
    case DataType::kBytes: {
      POLARIS_RETURN_IF_ERROR(check_value_count(c.bytes_contents_size(), count, field, shape, name));
      const std::vector<std::string> strings(c.bytes_contents().begin(), c.bytes_contents().end());
      return Tensor::from_strings(shape, strings);
    }
    default: break;
  }
  return input_error(name, fmt::format("has datatype {}, which has no typed contents", to_string(type)));
}

// A view into the message's raw bytes (tensor_from_wire: copied when
// misaligned, sizes and BOOL bytes checked).
Result<Tensor> decode_raw_input(const InputMessage& input, DataType type, const Shape& shape, const std::string& raw,
                                const std::shared_ptr<const void>& keepalive, const std::string& model) {
  if (!populated_fields(input.contents()).empty()) return triton::contents_with_raw_contents(input.name(), model);
  return tensor_from_wire(type, shape, raw.data(), raw.size(), keepalive, input.name());
}

Result<NamedTensor> decode_input(const inference::ModelInferRequest& message, int index,
                                 const std::shared_ptr<const void>& keepalive) {
  const InputMessage& input = message.inputs(index);
  const std::string& name = input.name();
  const std::optional<DataType> type = data_type_from_string(input.datatype());
  if (!type) return input_error(name, "has unknown datatype " + in_quotes(input.datatype()));
  Shape shape(std::vector<int64_t>(input.shape().begin(), input.shape().end()));
  Result<int64_t> count = shape.element_count();
  if (!count.ok()) return count.status().with_context("input " + in_quotes(name));

  Result<Tensor> tensor = message.raw_input_contents_size() > 0
                              ? decode_raw_input(input, *type, shape, message.raw_input_contents(index), keepalive,
                                                   message.model_name())
                              : decode_typed_input(input, *type, shape, *count);
  if (!tensor.ok()) return tensor.status();
  return NamedTensor{name, std::move(tensor).value()};
}

Result<RequestedOutput> decode_output(const inference::ModelInferRequest::InferRequestedOutputTensor& output) {
  RequestedOutput requested{output.name()};
  // Other output parameters (binary_data, shared memory) mean nothing here.
  const auto classification = output.parameters().find("classification");
  if (classification != output.parameters().end()) {
    POLARIS_ASSIGN_OR_RETURN(requested.classification, classification_count(classification->second, output.name()));
  }
  return requested;
}

}  // namespace

Result<InferRequest> decode_grpc_infer_request(const inference::ModelInferRequest& message,
                                               std::shared_ptr<const void> keepalive) {
  InferRequest request;
  request.model_name = message.model_name();
  POLARIS_ASSIGN_OR_RETURN(request.model_version, parse_model_version(message.model_version()));
  request.id = message.id();
  for (const auto& [key, value] : message.parameters()) {
    POLARIS_ASSIGN_OR_RETURN(request.parameters[key], parameter_value(value, key));
  }

  // raw_input_contents is all or nothing: entry i belongs to input i.
  if (message.raw_input_contents_size() > 0 && message.raw_input_contents_size() != message.inputs_size())
    return InvalidArgument(fmt::format("the request has {} inputs but {} raw_input_contents entries; send one per "
                                       "input, in input order, or none",
                                       message.inputs_size(), message.raw_input_contents_size()));
  request.inputs.reserve(message.inputs_size());
  for (int i = 0; i < message.inputs_size(); ++i) {
    for (int j = 0; j < i; ++j)
      if (message.inputs(j).name() == message.inputs(i).name())
        return input_error(message.inputs(i).name(), "appears twice in the request");
    POLARIS_ASSIGN_OR_RETURN(NamedTensor input, decode_input(message, i, keepalive));
    request.inputs.push_back(std::move(input));
  }

  request.outputs.reserve(message.outputs_size());
  for (const auto& output : message.outputs()) {
    for (const RequestedOutput& earlier : request.outputs)
      if (earlier.name == output.name())
        return InvalidArgument("output " + in_quotes(output.name()) + " is requested twice");
    POLARIS_ASSIGN_OR_RETURN(RequestedOutput requested, decode_output(output));
    request.outputs.push_back(std::move(requested));
  }
  return request;
}

void encode_grpc_infer_response(const InferResponse& result, inference::ModelInferResponse& response) {
  response.Clear();
  response.set_model_name(result.model_name);
  response.set_model_version(result.model_version);
  response.set_id(result.id);
  for (const InferOutput& out : result.outputs) {
    auto* tensor = response.add_outputs();
    tensor->set_name(out.name);
    tensor->set_datatype(std::string(to_string(out.tensor.dtype())));
    tensor->mutable_shape()->Add(out.tensor.shape().dims().begin(), out.tensor.shape().dims().end());
    // BYTES tensors already hold the protocol's layout (uint32 LE length +
    // bytes per element): every output copies as is.
    response.add_raw_output_contents()->assign(static_cast<const char*>(out.tensor.data()), out.tensor.byte_size());
  }
}

}  // namespace polaris
