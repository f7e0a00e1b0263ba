// What a TorchScript module says about itself: forward()'s schema gives the
// input names (and scalar argument types); the archive records no dtypes or
// shapes, so those come from the user's spec, from inference at load
// (torch_input_inference.h) or from the first run.
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <set>
#include <sstream>

#include "backends/torch/torch_model.h"
#include "backends/torch/torch_spec.h"

namespace polaris::torch_backend {
namespace {

ArgKind kind_of(c10::TypePtr type) {
  if (auto optional = type->cast<c10::OptionalType>()) type = optional->getElementType();
  switch (type->kind()) {
    case c10::TypeKind::TensorType: return ArgKind::kTensor;
    case c10::TypeKind::IntType: return ArgKind::kInt;
    case c10::TypeKind::FloatType: return ArgKind::kFloat;
    case c10::TypeKind::BoolType: return ArgKind::kBool;
    default: return ArgKind::kUnsupported;
  }
}

bool is_feedable_output(const c10::TypePtr& type) {
  const auto kind = type->kind();
  return kind == c10::TypeKind::TensorType || kind == c10::TypeKind::IntType ||
         kind == c10::TypeKind::FloatType || kind == c10::TypeKind::BoolType;
}

// Observed dims with dim 0 as -1 (the batch dimension).
Shape observed_shape(const std::vector<int64_t>& dims) {
  std::vector<int64_t> out(dims);
  if (!out.empty()) out[0] = Shape::kDynamic;
  return Shape(std::move(out));
}

void fill_from(TensorInfo& info, DataType dtype, const std::vector<int64_t>& dims) {
  if (info.dtype == DataType::kInvalid) info.dtype = dtype;
  if (info.shape.rank() == 0 && !dims.empty()) info.shape = observed_shape(dims);
}

}  // namespace

std::optional<at::ScalarType> to_scalar_type(DataType type) {
  switch (type) {
    case DataType::kBool: return at::kBool;
    case DataType::kUint8: return at::kByte;
    case DataType::kUint16: return at::kUInt16;
    case DataType::kUint32: return at::kUInt32;
    case DataType::kUint64: return at::kUInt64;
    case DataType::kInt8: return at::kChar;
    case DataType::kInt16: return at::kShort;
    case DataType::kInt32: return at::kInt;
    case DataType::kInt64: return at::kLong;
    case DataType::kFp16: return at::kHalf;
    case DataType::kFp32: return at::kFloat;
    case DataType::kFp64: return at::kDouble;
    case DataType::kBf16: return at::kBFloat16;
    case DataType::kBytes:
    case DataType::kInvalid: return std::nullopt;
  }
  return std::nullopt;
}

std::optional<DataType> to_data_type(at::ScalarType type) {
  switch (type) {
    case at::kBool: return DataType::kBool;
    case at::kByte: return DataType::kUint8;
    case at::kUInt16: return DataType::kUint16;
    case at::kUInt32: return DataType::kUint32;
    case at::kUInt64: return DataType::kUint64;
    case at::kChar: return DataType::kInt8;
    case at::kShort: return DataType::kInt16;
    case at::kInt: return DataType::kInt32;
    case at::kLong: return DataType::kInt64;
    case at::kHalf: return DataType::kFp16;
    case at::kFloat: return DataType::kFp32;
    case at::kDouble: return DataType::kFp64;
    case at::kBFloat16: return DataType::kBf16;
    default: return std::nullopt;  // complex, quantized, float8, ...: no KServe type
  }
}

Result<std::vector<ArgInfo>> describe_forward(const torch::jit::Module& module, std::string* schema_text) {
  auto method = module.find_method("forward");
  if (!method) return InvalidArgument("the TorchScript module has no forward() method");
  const c10::FunctionSchema& schema = method->function().getSchema();
  std::ostringstream text;
  text << schema;
  *schema_text = text.str();
  std::vector<ArgInfo> args;
  for (std::size_t i = 0; i < schema.arguments().size(); ++i) {
    const c10::Argument& argument = schema.arguments()[i];
    // The module itself: the first argument, of the module's class type,
    // whatever its name (`self` by convention only).
    if (i == 0 && argument.type()->kind() == c10::TypeKind::ClassType) continue;
    ArgInfo info;
    info.name = argument.name();
    info.kind = kind_of(argument.type());
    info.has_default = argument.default_value().has_value();
    info.type = argument.type()->annotation_str();
    args.push_back(std::move(info));
  }
  return args;
}

Status describe_tensors(const torch::jit::Module& module, const std::vector<TensorInfo>& spec_inputs,
                        const std::vector<TensorInfo>& spec_outputs, std::vector<ArgInfo>& args,
                        ModelMetadata& metadata) {
  for (const auto& declared : spec_inputs) {
    bool found = false;
    for (const auto& arg : args) found = found || arg.name == declared.name;
    if (!found) {
      std::string names;
      for (const auto& arg : args) names += (names.empty() ? "" : ", ") + arg.name;
      return InvalidArgument("the tensor spec declares input '" + declared.name + "', but forward(" + names +
                             ") has no such argument");
    }
  }
  std::string unsupported;
  for (auto& arg : args) {
    TensorInfo info;
    info.name = arg.name;
    switch (arg.kind) {
      case ArgKind::kInt: info.dtype = DataType::kInt64; info.shape = Shape{1}; break;
      case ArgKind::kFloat: info.dtype = DataType::kFp64; info.shape = Shape{1}; break;
      case ArgKind::kBool: info.dtype = DataType::kBool; info.shape = Shape{1}; break;
      case ArgKind::kUnsupported: unsupported += (unsupported.empty() ? "" : ", ") + arg.name + ": " + arg.type; break;
      case ArgKind::kTensor:
        for (const auto& declared : spec_inputs) {
          if (declared.name != arg.name) continue;
          info = declared;
          arg.declared_dtype = declared.dtype;
          if (declared.shape.rank() > 0) arg.declared_shape = declared.shape;
        }
        break;
    }
    metadata.inputs.push_back(std::move(info));
  }
  if (!unsupported.empty()) metadata.extra_info["unsupported_arguments"] = unsupported;

  if (!spec_outputs.empty()) {
    metadata.outputs = spec_outputs;
    return Status::Ok();
  }
  // Without a spec the return type names what it can: a tensor or a tuple of
  // tensors has a fixed count; a list's length and a dict's keys are only
  // known after a run.
  const auto method = module.find_method("forward");
  const auto& returns = method->function().getSchema().returns();
  if (returns.size() != 1) return Status::Ok();
  const c10::TypePtr& type = returns[0].type();
  if (is_feedable_output(type)) {
    metadata.outputs.push_back(TensorInfo{positional_output_name(0, {}), DataType::kInvalid, Shape(), {}});
  } else if (auto tuple = type->cast<c10::TupleType>()) {
    for (std::size_t i = 0; i < tuple->elements().size(); ++i)
      metadata.outputs.push_back(TensorInfo{positional_output_name(i, {}), DataType::kInvalid, Shape(), {}});
  }
  return Status::Ok();
}

ParameterStats parameter_stats(const torch::jit::Module& module) {
  ParameterStats stats;
  for (const at::Tensor& p : module.parameters(/*recurse=*/true)) {
    stats.parameter_count += static_cast<uint64_t>(p.numel());
    stats.parameter_bytes += static_cast<uint64_t>(p.nbytes());
  }
  for (const at::Tensor& b : module.buffers(/*recurse=*/true)) stats.buffer_bytes += static_cast<uint64_t>(b.nbytes());
  return stats;
}

std::shared_ptr<torch::jit::Graph> inlined_forward(const torch::jit::Module& module) {
  auto graph = module.get_method("forward").graph()->copy();
  torch::jit::Inline(*graph);
  return graph;
}

namespace {
void add_constants(const torch::jit::Block* block, std::set<const void*>& seen, ParameterStats& stats) {
  for (const torch::jit::Node* node : block->nodes()) {
    for (const torch::jit::Block* inner : node->blocks()) add_constants(inner, seen, stats);
    if (node->kind() != c10::prim::Constant || !node->output()->type()->cast<c10::TensorType>()) continue;
    const auto value = torch::jit::toIValue(node->output());
    if (!value || !value->isTensor()) continue;
    const at::Tensor& t = value->toTensor();
    if (!t.defined() || t.dim() == 0 || !c10::isFloatingType(t.scalar_type())) continue;
    if (t.layout() == at::kStrided && !seen.insert(t.storage().data()).second) continue;
    stats.parameter_count += static_cast<uint64_t>(t.numel());
    stats.parameter_bytes += static_cast<uint64_t>(t.numel()) * t.element_size();
  }
}
}  // namespace

ParameterStats constant_stats(const torch::jit::Graph& graph) {
  ParameterStats stats;
  std::set<const void*> seen;
  add_constants(graph.block(), seen, stats);
  return stats;
}

ModelMetadata with_observed(const ModelMetadata& metadata, const NamedTensors& inputs,
                            const std::vector<std::pair<std::string, at::Tensor>>& outputs) {
  ModelMetadata out = metadata;
  for (auto& info : out.inputs) {
    for (const auto& given : inputs)
      if (given.name == info.name) fill_from(info, given.tensor.dtype(), given.tensor.shape().dims());
  }
  if (out.outputs.empty()) {
    for (const auto& [name, tensor] : outputs) out.outputs.push_back(TensorInfo{name, DataType::kInvalid, Shape(), {}});
  }
  for (auto& info : out.outputs) {
    for (const auto& [name, tensor] : outputs) {
      if (name != info.name) continue;
      if (auto dtype = to_data_type(tensor.scalar_type())) fill_from(info, *dtype, tensor.sizes().vec());
    }
  }
  out.extra_info["shapes_observed"] = "filled from the first successful run; dim 0 reported as -1 (batch)";
  return out;
}

std::string engine_message(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) return engine_message_line(error->what_without_backtrace());
  return engine_message_line(e.what());
}

}  // namespace polaris::torch_backend
