#include "runtime/request_validation.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/quote.h"
#include "runtime/model_config.h"

namespace polaris {
namespace {

// The shape a client sees in metadata: -1 for the batch dim first.
Shape client_shape(const google::protobuf::RepeatedField<int64_t>& dims, int max_batch_size) {
  std::vector<int64_t> shape;
  if (max_batch_size > 0) shape.push_back(-1);
  shape.insert(shape.end(), dims.begin(), dims.end());
  return Shape(std::move(shape));
}

Status check_input(const inference::ModelInput& expected, const Tensor& tensor, int max_batch_size,
                   std::string_view model) {
  const DataType want = from_config_data_type(expected.data_type());
  if (want != DataType::kInvalid && tensor.dtype() != want)
    return InvalidArgument(fmt::format("input {} of model {} has datatype {}, the model expects {}",
                                       in_quotes(expected.name()), in_quotes(model), to_string(tensor.dtype()),
                                       to_string(want)));
  const auto& shape = tensor.shape().dims();
  const std::size_t batch_dims = max_batch_size > 0 ? 1 : 0;
  bool ok = shape.size() == static_cast<std::size_t>(expected.dims_size()) + batch_dims;
  if (ok && batch_dims == 1) ok = shape[0] >= 1 && shape[0] <= max_batch_size;
  for (int i = 0; ok && i < expected.dims_size(); ++i)
    ok = expected.dims(i) < 0 || expected.dims(i) == shape[batch_dims + static_cast<std::size_t>(i)];
  if (!ok)
    return InvalidArgument(fmt::format(
        "input {} of model {} has shape {}, the model expects {}{}", in_quotes(expected.name()), in_quotes(model),
        tensor.shape().to_string(), client_shape(expected.dims(), max_batch_size).to_string(),
        max_batch_size > 0 ? fmt::format(" with a batch of 1 to {}", max_batch_size) : std::string()));
  return Status::Ok();
}

}  // namespace

Status validate_request(std::string_view model, const NamedTensors& inputs,
                        const std::vector<std::string>& requested_outputs, const inference::ModelConfig& config) {
  for (std::size_t i = 0; i < inputs.size(); ++i)
    for (std::size_t j = i + 1; j < inputs.size(); ++j)
      if (inputs[i].name == inputs[j].name)
        return InvalidArgument(fmt::format("input {} is given twice", in_quotes(inputs[i].name)));
  if (config.input_size() > 0) {
    for (const NamedTensor& in : inputs) {
      const auto it = std::find_if(config.input().begin(), config.input().end(),
                                   [&](const auto& i) { return i.name() == in.name; });
      if (it == config.input().end())
        return InvalidArgument(fmt::format("model {} has no input named {}", in_quotes(model), in_quotes(in.name)));
      POLARIS_RETURN_IF_ERROR(check_input(*it, in.tensor, config.max_batch_size(), model));
    }
    // check_input gave every input of a batching model a batch dim.
    if (config.max_batch_size() > 0)
      for (const NamedTensor& in : inputs)
        if (in.tensor.shape()[0] != inputs.front().tensor.shape()[0])
          return InvalidArgument(fmt::format(
              "input {} batch size does not match other inputs for {}: its first dim is {}, input {} has {}",
              in_quotes(in.name), in_quotes(model), in.tensor.shape()[0], in_quotes(inputs.front().name),
              inputs.front().tensor.shape()[0]));
    for (const auto& expected : config.input()) {
      const bool given =
          std::any_of(inputs.begin(), inputs.end(), [&](const NamedTensor& t) { return t.name == expected.name(); });
      if (!given && !expected.optional())
        return InvalidArgument(
            fmt::format("input {} of model {} is missing", in_quotes(expected.name()), in_quotes(model)));
    }
  }
  if (config.output_size() > 0)
    for (const std::string& out : requested_outputs)
      if (std::none_of(config.output().begin(), config.output().end(), [&](const auto& o) { return o.name() == out; }))
        return InvalidArgument(fmt::format("model {} has no output named {}", in_quotes(model), in_quotes(out)));
  return Status::Ok();
}

}  // namespace polaris
