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
#include "server/shared_memory_io.h"
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

// The shared-memory parameters of an input or requested output
// (shared_memory_io.h): tritonclient sends the region as string_param and
// the sizes as int64_param; uint64_param is taken too. nullopt without
// shared_memory_region.
Result<std::optional<SharedMemoryRef>> shared_memory_parameters(
    const google::protobuf::Map<std::string, inference::InferParameter>& parameters, const std::string& what) {
  const auto region = parameters.find("shared_memory_region");
  if (region == parameters.end()) return std::optional<SharedMemoryRef>();
  if (region->second.parameter_choice_case() != inference::InferParameter::kStringParam)
    return InvalidArgument(what + ": parameter 'shared_memory_region' must be a string_param");
  std::optional<int64_t> numbers[2];
  const char* keys[2] = {"shared_memory_byte_size", "shared_memory_offset"};
  for (int i = 0; i < 2; ++i) {
    const auto it = parameters.find(keys[i]);
    if (it == parameters.end()) continue;
    const inference::InferParameter& p = it->second;
    if (p.parameter_choice_case() == inference::InferParameter::kInt64Param) {
      numbers[i] = p.int64_param();
    } else if (p.parameter_choice_case() == inference::InferParameter::kUint64Param &&
               p.uint64_param() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      numbers[i] = static_cast<int64_t>(p.uint64_param());
    } else {
      return InvalidArgument(fmt::format("{}: parameter '{}' must be an int64_param from 0 to 2^63-1", what, keys[i]));
    }
  }
  POLARIS_ASSIGN_OR_RETURN(SharedMemoryRef ref,
                           shared_memory_ref(region->second.string_param(), numbers[0], numbers[1], what));
  return std::optional<SharedMemoryRef>(std::move(ref));
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

// Input `index`: from shared memory (`shm`), from `raw` (its
// raw_input_contents entry) or from its typed contents.
Result<NamedTensor> decode_input(const inference::ModelInferRequest& message, int index,
                                 const std::optional<SharedMemoryRef>& shm, const std::string* raw,
                                 const std::shared_ptr<const void>& keepalive,
                                 const SharedMemoryRegistry* shared_memory) {
  const InputMessage& input = message.inputs(index);
  const std::string& name = input.name();
  const std::optional<DataType> type = data_type_from_string(input.datatype());
  if (!type) return input_error(name, "has unknown datatype " + in_quotes(input.datatype()));
  Shape shape(std::vector<int64_t>(input.shape().begin(), input.shape().end()));
  Result<int64_t> count = shape.element_count();
  if (!count.ok()) return count.status().with_context("input " + in_quotes(name));

  if (shm && !populated_fields(input.contents()).empty())
    return InvalidArgument("unexpected 'content' provided when using shared memory for input tensor " +
                           in_quotes(name) + " for model " + in_quotes(message.model_name()));
  Result<Tensor> tensor = shm    ? tensor_from_shared_memory(shared_memory, *type, shape, *shm, name)
                          : raw  ? decode_raw_input(input, *type, shape, *raw, keepalive, message.model_name())
                                 : decode_typed_input(input, *type, shape, *count);
  if (!tensor.ok()) return tensor.status();
  return NamedTensor{name, std::move(tensor).value()};
}

Result<RequestedOutput> decode_output(const inference::ModelInferRequest::InferRequestedOutputTensor& output,
                                      const SharedMemoryRegistry* shared_memory) {
  RequestedOutput requested{output.name()};
  // Other output parameters (binary_data) mean nothing here.
  const auto classification = output.parameters().find("classification");
  if (classification != output.parameters().end()) {
    POLARIS_ASSIGN_OR_RETURN(requested.classification, classification_count(classification->second, output.name()));
  }
  POLARIS_ASSIGN_OR_RETURN(std::optional<SharedMemoryRef> shm,
                           shared_memory_parameters(output.parameters(), "output " + in_quotes(output.name())));
  if (shm) {
    if (requested.classification > 0)
      return InvalidArgument("output " + in_quotes(output.name()) +
                             ": output can't set both 'shared_memory_region' and 'classification'");
    POLARIS_ASSIGN_OR_RETURN(requested.shared_memory, output_window(shared_memory, *shm, output.name()));
  }
  return requested;
}

}  // namespace

Result<InferRequest> decode_grpc_infer_request(const inference::ModelInferRequest& message,
                                               std::shared_ptr<const void> keepalive,
                                               const SharedMemoryRegistry* shared_memory) {
  InferRequest request;
  request.model_name = message.model_name();
  POLARIS_ASSIGN_OR_RETURN(request.model_version, parse_model_version(message.model_version()));
  request.id = message.id();
  for (const auto& [key, value] : message.parameters()) {
    POLARIS_ASSIGN_OR_RETURN(request.parameters[key], parameter_value(value, key));
  }

  // Inputs in shared memory have no raw_input_contents entry (Triton's
  // layout, and what tritonclient sends): raw_input_contents is all or
  // nothing over the other inputs, entry k belonging to the k-th of them.
  std::vector<std::optional<SharedMemoryRef>> in_shared_memory(message.inputs_size());
  int from_message = 0;
  for (int i = 0; i < message.inputs_size(); ++i) {
    const auto& input = message.inputs(i);
    POLARIS_ASSIGN_OR_RETURN(in_shared_memory[i],
                             shared_memory_parameters(input.parameters(), "input " + in_quotes(input.name())));
    if (!in_shared_memory[i]) ++from_message;
  }
  if (message.raw_input_contents_size() > 0 && message.raw_input_contents_size() != from_message) {
    if (from_message == message.inputs_size())
      return InvalidArgument(fmt::format("the request has {} inputs but {} raw_input_contents entries; send one per "
                                         "input, in input order, or none",
                                         message.inputs_size(), message.raw_input_contents_size()));
    return InvalidArgument(fmt::format("the request has {} inputs, {} of them in shared memory, but {} "
                                       "raw_input_contents entries; send one per input not in shared memory, in "
                                       "input order, or none",
                                       message.inputs_size(), message.inputs_size() - from_message,
                                       message.raw_input_contents_size()));
  }
  request.inputs.reserve(message.inputs_size());
  int raw_index = 0;
  for (int i = 0; i < message.inputs_size(); ++i) {
    for (int j = 0; j < i; ++j)
      if (message.inputs(j).name() == message.inputs(i).name())
        return input_error(message.inputs(i).name(), "appears twice in the request");
    const std::string* raw = nullptr;
    if (!in_shared_memory[i] && message.raw_input_contents_size() > 0) raw = &message.raw_input_contents(raw_index++);
    POLARIS_ASSIGN_OR_RETURN(NamedTensor input,
                             decode_input(message, i, in_shared_memory[i], raw, keepalive, shared_memory));
    request.inputs.push_back(std::move(input));
  }

  request.outputs.reserve(message.outputs_size());
  for (const auto& output : message.outputs()) {
    for (const RequestedOutput& earlier : request.outputs)
      if (earlier.name == output.name())
        return InvalidArgument("output " + in_quotes(output.name()) + " is requested twice");
    POLARIS_ASSIGN_OR_RETURN(RequestedOutput requested, decode_output(output, shared_memory));
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
    if (out.shared_memory) {
      // Already in the client's region: metadata only, as Triton answers,
      // with an empty raw entry, as Triton sends, so entry i still belongs
      // to output i (tritonclient's as_numpy indexes raw_output_contents by
      // position).
      response.add_raw_output_contents();
      continue;
    }
    // BYTES tensors already hold the protocol's layout (uint32 LE length +
    // bytes per element): every output copies as is.
    response.add_raw_output_contents()->assign(static_cast<const char*>(out.tensor.data()), out.tensor.byte_size());
  }
}

}  // namespace polaris
