#include "runtime/reshape.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace polaris {
namespace {

using Dims = std::vector<int64_t>;

Dims to_dims(const google::protobuf::RepeatedField<int64_t>& field) { return Dims(field.begin(), field.end()); }

std::string dims_string(const Dims& dims) { return Shape(dims).to_string(); }

// `tensor` (a batch dim in front when `batched`) viewed with item dims
// `target`, whose one variable dim, if any, takes what the element count
// leaves. The bytes are shared, not copied.
Result<Tensor> as_shape(const Tensor& tensor, const Dims& target, bool batched, std::string_view what) {
  const Shape& shape = tensor.shape();
  const std::size_t skip = batched ? 1 : 0;
  if (shape.rank() < skip) return InvalidArgument(fmt::format("{} has no batch dim to keep", what));
  int64_t items = 1;
  for (std::size_t i = skip; i < shape.rank(); ++i) items *= shape[i];  // validated shapes: no overflow
  Dims dims;
  if (batched) dims.push_back(shape[0]);
  int64_t known = 1;
  std::ptrdiff_t variable = -1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == Shape::kDynamic)
      variable = static_cast<std::ptrdiff_t>(i);
    else
      known *= target[i];
  }
  dims.insert(dims.end(), target.begin(), target.end());
  if (variable >= 0) {
    if (known == 0 || items % known != 0)
      return InvalidArgument(fmt::format("{} has {} elements per batch item, which reshape {} cannot hold", what,
                                         items, dims_string(target)));
    dims[skip + static_cast<std::size_t>(variable)] = items / known;
  } else if (known != items) {
    return InvalidArgument(fmt::format("{} has {} elements per batch item, its reshape {} needs {}", what, items,
                                       dims_string(target), known));
  }
  return Tensor::borrow(tensor.dtype(), Shape(std::move(dims)), const_cast<void*>(tensor.data()),
                        tensor.byte_size(), std::make_shared<Tensor>(tensor));
}

// The engine's model with the config's reshapes applied at its edge.
class ReshapedModel final : public Model {
 public:
  // Item dims (batch dim excluded) by tensor name: `to_engine` the engine's
  // for inputs (reshape.shape), `to_client` the client's for outputs, and
  // `client_inputs` the client's for inputs (for the metadata).
  ReshapedModel(std::unique_ptr<Model> engine, bool batched, std::map<std::string, Dims> to_engine,
                std::map<std::string, Dims> to_client, const std::map<std::string, Dims>& client_inputs)
      : engine_(std::move(engine)),
        batched_(batched),
        to_engine_(std::move(to_engine)),
        to_client_(std::move(to_client)),
        metadata_(engine_->metadata()) {
    // Metadata shows what clients send and get: the config's dims.
    auto show = [&](std::vector<TensorInfo>& tensors, const std::map<std::string, Dims>& client_dims) {
      for (TensorInfo& t : tensors) {
        auto it = client_dims.find(t.name);
        if (it == client_dims.end()) continue;
        Dims dims;
        if (batched_) dims.push_back(Shape::kDynamic);
        dims.insert(dims.end(), it->second.begin(), it->second.end());
        t.shape = Shape(std::move(dims));
        t.dim_names.clear();
      }
    };
    show(metadata_.inputs, client_inputs);
    show(metadata_.outputs, to_client_);
  }

  const ModelMetadata& metadata() const override { return metadata_; }

  Result<NamedTensors> run(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs) override {
    NamedTensors engine_inputs;
    engine_inputs.reserve(inputs.size());
    for (const NamedTensor& in : inputs) {
      auto it = to_engine_.find(in.name);
      if (it == to_engine_.end()) {
        engine_inputs.push_back(in);
        continue;
      }
      POLARIS_ASSIGN_OR_RETURN(Tensor t, as_shape(in.tensor, it->second, batched_, "input '" + in.name + "'"));
      engine_inputs.push_back({in.name, std::move(t)});
    }
    POLARIS_ASSIGN_OR_RETURN(NamedTensors outputs, engine_->run(engine_inputs, requested_outputs));
    for (NamedTensor& out : outputs) {
      auto it = to_client_.find(out.name);
      if (it == to_client_.end()) continue;
      POLARIS_ASSIGN_OR_RETURN(out.tensor, as_shape(out.tensor, it->second, batched_, "output '" + out.name + "'"));
    }
    return outputs;
  }

 private:
  std::unique_ptr<Model> engine_;
  bool batched_;
  std::map<std::string, Dims> to_engine_, to_client_;
  ModelMetadata metadata_;
};

template <typename ConfigTensor>
Status check_reshape(std::string_view kind, const ConfigTensor& tensor) {
  if (!tensor.has_reshape()) return Status::Ok();
  const Dims dims = to_dims(tensor.dims()), shape = to_dims(tensor.reshape().shape());
  auto variables = [](const Dims& d) { return std::count(d.begin(), d.end(), Shape::kDynamic); };
  auto fixed_count = [](const Dims& d) {
    int64_t n = 1;
    for (int64_t v : d) {
      if (v < 0 && v != Shape::kDynamic) return int64_t{-2};
      if (v != Shape::kDynamic) n *= v;
    }
    return n;
  };
  const std::string what = fmt::format("{} '{}'", kind, tensor.name());
  if (variables(dims) > 1 || variables(shape) > 1)
    return InvalidArgument(fmt::format("{}: dims {} with reshape {}: Polaris reshapes with at most one variable dim "
                                       "(-1) on each side",
                                       what, dims_string(dims), dims_string(shape)));
  if (fixed_count(dims) == -2 || fixed_count(shape) == -2)
    return InvalidArgument(fmt::format("{}: reshape dims must be positive or -1", what));
  if (variables(dims) == 0 && variables(shape) == 0 && fixed_count(dims) != fixed_count(shape))
    return InvalidArgument(fmt::format("{}: dims {} hold {} elements, reshape {} holds {}", what, dims_string(dims),
                                       fixed_count(dims), dims_string(shape), fixed_count(shape)));
  return Status::Ok();
}

}  // namespace

Status check_reshapes(const inference::ModelConfig& config) {
  for (const auto& in : config.input()) POLARIS_RETURN_IF_ERROR(check_reshape("input", in));
  for (const auto& out : config.output()) POLARIS_RETURN_IF_ERROR(check_reshape("output", out));
  return Status::Ok();
}

std::unique_ptr<Model> apply_reshapes(std::unique_ptr<Model> model, const inference::ModelConfig& config) {
  std::map<std::string, Dims> to_engine, client_inputs, to_client;
  for (const auto& in : config.input()) {
    if (!in.has_reshape()) continue;
    to_engine[in.name()] = to_dims(in.reshape().shape());
    client_inputs[in.name()] = to_dims(in.dims());
  }
  for (const auto& out : config.output())
    if (out.has_reshape()) to_client[out.name()] = to_dims(out.dims());
  if (to_engine.empty() && to_client.empty()) return model;
  return std::make_unique<ReshapedModel>(std::move(model), config.max_batch_size() > 0, std::move(to_engine),
                                         std::move(to_client), client_inputs);
}

}  // namespace polaris
