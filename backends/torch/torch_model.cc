// TorchModel::run: request tensors in, engine tensors out, no copies where
// the engine allows.
#include "backends/torch/torch_model.h"

#include <torch/csrc/jit/runtime/jit_exception.h>

#include <cstdint>
#include <cstring>

#include "backends/torch/torch_spec.h"

namespace polaris::torch_backend {
namespace {

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// A view of a request tensor; the caller owns the bytes for the duration of
// run(). from_blob does not copy, but kernels may assume elements are
// naturally aligned, which a buffer carved from a request body need not be:
// a misaligned buffer is copied into an aligned tensor.
at::Tensor wrap_input(const Tensor& tensor, at::ScalarType type) {
  const auto options = at::TensorOptions().dtype(type);
  const auto& dims = tensor.shape().dims();
  void* data = const_cast<void*>(tensor.data());
  const auto alignment = element_size(tensor.dtype());
  if (alignment > 1 && reinterpret_cast<std::uintptr_t>(data) % alignment != 0) {
    at::Tensor copy = at::empty(dims, options);
    std::memcpy(copy.data_ptr(), data, tensor.byte_size());
    return copy;
  }
  return at::from_blob(data, dims, options);
}

// The scalar a one-element tensor holds, typed for forward's int/float/bool
// argument.
Result<c10::IValue> to_scalar(const ArgInfo& arg, const at::Tensor& t, const Tensor& given) {
  const std::string what = "input '" + arg.name + "' feeds forward's " + arg.type + " argument";
  if (t.numel() != 1)
    return InvalidArgument(what + " and needs exactly one element, got shape " + given.shape().to_string());
  const auto type = t.scalar_type();
  const bool integral = c10::isIntegralType(type, /*includeBool=*/false);
  switch (arg.kind) {
    case ArgKind::kInt:
      if (!integral) break;
      return c10::IValue(t.item().toLong());
    case ArgKind::kFloat:
      if (!integral && !c10::isFloatingType(type)) break;
      return c10::IValue(t.item().toDouble());
    case ArgKind::kBool:
      if (!integral && type != at::kBool) break;
      return c10::IValue(t.item().toBool());
    default: break;
  }
  return InvalidArgument(what + ", which cannot take a " + std::string(to_string(given.dtype())) + " value");
}

// Engine output elements may be tensors or Python scalars (int, float, bool),
// which become 0-dim tensors.
Result<at::Tensor> as_tensor(const c10::IValue& value, const std::string& name) {
  if (value.isTensor()) return value.toTensor();
  if (value.isInt()) return at::scalar_tensor(value.toInt(), at::kLong);
  if (value.isDouble()) return at::scalar_tensor(value.toDouble(), at::kDouble);
  if (value.isBool()) return at::scalar_tensor(value.toBool(), at::kBool);
  return Unimplemented("output '" + name + "' is a " + value.type()->annotation_str() +
                       ", which the torch backend cannot return (tensors and int/float/bool scalars only)");
}

}  // namespace

Result<NamedOutputs> name_outputs(const c10::IValue& result, const std::vector<TensorInfo>& declared_outputs) {
  NamedOutputs out;
  auto add = [&](const c10::IValue& value, std::string name) -> Status {
    POLARIS_ASSIGN_OR_RETURN(at::Tensor t, as_tensor(value, name));
    out.emplace_back(std::move(name), std::move(t));
    return Status::Ok();
  };
  if (result.isTuple() || result.isList()) {
    const auto elements = result.isTuple() ? result.toTupleRef().elements().vec() : result.toListRef().vec();
    for (std::size_t i = 0; i < elements.size(); ++i)
      POLARIS_RETURN_IF_ERROR(add(elements[i], positional_output_name(i, declared_outputs)));
  } else if (result.isGenericDict()) {
    for (const auto& entry : result.toGenericDict()) {  // insertion order
      if (!entry.key().isString()) return Unimplemented("forward() returned a dict whose keys are not strings");
      POLARIS_RETURN_IF_ERROR(add(entry.value(), entry.key().toStringRef()));
    }
  } else {
    POLARIS_RETURN_IF_ERROR(add(result, positional_output_name(0, declared_outputs)));
  }
  return out;
}

TorchModel::TorchModel(torch::jit::Module module, c10::Device device, std::vector<ArgInfo> args,
                       ModelMetadata metadata, std::vector<TensorInfo> declared_outputs, bool graph_optimize)
    : device_(device),
      args_(std::move(args)),
      declared_outputs_(std::move(declared_outputs)),
      graph_optimize_(graph_optimize),
      module_(std::move(module)) {
  bool complete = !metadata.outputs.empty();
  for (const auto& t : metadata.inputs) complete = complete && t.dtype != DataType::kInvalid;
  for (const auto& t : metadata.outputs) complete = complete && t.dtype != DataType::kInvalid;
  observed_ = complete;  // nothing left to learn from a run
  versions_.push_back(std::make_unique<const ModelMetadata>(std::move(metadata)));
  metadata_.store(versions_.back().get(), std::memory_order_release);
}

Result<torch::jit::Kwargs> TorchModel::to_arguments(const NamedTensors& inputs, std::vector<at::Tensor>& keep) const {
  std::vector<std::string> arg_names;
  for (const auto& arg : args_) arg_names.push_back(arg.name);
  torch::jit::Kwargs kwargs;
  for (const auto& [name, tensor] : inputs) {
    const ArgInfo* arg = nullptr;
    for (const auto& a : args_) arg = a.name == name ? &a : arg;
    if (arg == nullptr)
      return InvalidArgument("unknown input '" + name + "': forward() takes " + join_names(arg_names));
    if (kwargs.count(name)) return InvalidArgument("input '" + name + "' is given twice");
    if (arg->kind == ArgKind::kUnsupported)
      return Unimplemented("input '" + name + "' feeds forward's " + arg->type +
                           " argument, which the torch backend cannot build from a tensor");
    const auto type = to_scalar_type(tensor.dtype());
    if (!type)
      return InvalidArgument("input '" + name + "' is " + std::string(to_string(tensor.dtype())) +
                             ": the torch backend takes numeric and BOOL tensors only");
    if (arg->declared_dtype != DataType::kInvalid && arg->declared_dtype != tensor.dtype())
      return InvalidArgument("input '" + name + "' must be " + std::string(to_string(arg->declared_dtype)) +
                             ", got " + std::string(to_string(tensor.dtype())));
    if (arg->declared_shape && !tensor.shape().matches(*arg->declared_shape))
      return InvalidArgument("input '" + name + "' has shape " + tensor.shape().to_string() + ", the model takes " +
                             arg->declared_shape->to_string());
    at::Tensor t = wrap_input(tensor, *type);
    keep.push_back(t);
    if (arg->kind != ArgKind::kTensor) {
      POLARIS_ASSIGN_OR_RETURN(kwargs[name], to_scalar(*arg, t, tensor));
      continue;
    }
    kwargs[name] = device_.is_cpu() ? t : t.to(device_);
  }
  for (const auto& arg : args_)
    if (!arg.has_default && !kwargs.count(arg.name))
      return InvalidArgument("missing input '" + arg.name + "': forward() takes " + join_names(arg_names));
  return kwargs;
}

Result<NamedTensors> TorchModel::run(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs) {
  std::lock_guard lock(run_mu_);
  try {
    // Outputs are made inside InferenceMode too: they are inference tensors.
    c10::InferenceMode inference;
    std::vector<at::Tensor> keep;  // the input views, alive until outputs are checked for aliasing
    NamedOutputs named;
    {
      POLARIS_ASSIGN_OR_RETURN(torch::jit::Kwargs kwargs, to_arguments(inputs, keep));
      c10::IValue result;
      try {
        torch::jit::GraphOptimizerEnabledGuard optimize(graph_optimize_);
        result = module_.get_method("forward")({}, kwargs);
      } catch (const torch::jit::JITException& e) {
        // The model's own code raised (TorchScript `raise`): the model
        // failed, as Triton's PyTorch backend reports it (500).
        return Internal("the model raised an error: " + engine_message(e));
      } catch (const std::exception& e) {
        // Otherwise a failure in forward is nearly always the input's fault
        // (a shape or dtype the code does not accept, as an aten check
        // says); memory and device failures are the engine's.
        const std::string message = engine_message(e);
        if (dynamic_cast<const c10::OutOfMemoryError*>(&e) || message.find("out of memory") != std::string::npos)
          return ResourceExhausted("the model ran out of memory: " + message);
        if (message.find("CUDA error") != std::string::npos) return Internal("the model failed: " + message);
        return InvalidArgument("the model rejected its inputs: " + message);
      }
      POLARIS_ASSIGN_OR_RETURN(named, name_outputs(result, declared_outputs_));
    }  // kwargs and result released: only `named` and `keep` hold tensors now
    for (auto& [name, t] : named) {
      if (t.layout() != at::kStrided) t = t.to_dense();  // MKLDNN or sparse results
      t = t.to(at::kCPU).contiguous();
    }
    if (!observed_) {
      versions_.push_back(std::make_unique<const ModelMetadata>(with_observed(metadata(), inputs, named)));
      metadata_.store(versions_.back().get(), std::memory_order_release);
      observed_ = true;
    }

    std::vector<std::size_t> picked;
    if (requested_outputs.empty()) {
      for (std::size_t i = 0; i < named.size(); ++i) picked.push_back(i);
    }
    for (const auto& want : requested_outputs) {
      std::size_t i = 0;
      while (i < named.size() && named[i].first != want) ++i;
      if (i == named.size()) {
        std::vector<std::string> names;
        for (const auto& n : named) names.push_back(n.first);
        return InvalidArgument("unknown output '" + want + "': the model returns " + join_names(names));
      }
      picked.push_back(i);
    }

    NamedTensors out;
    for (std::size_t i : picked) {
      at::Tensor t = named[i].second;
      // Returned bytes must belong to the result alone: a tensor whose
      // storage another tensor shares may be the caller's input buffer (a
      // model returning its input) or module state the next run mutates.
      if (t.use_count() > 2 || t.storage().use_count() > 1) t = t.clone();
      auto dtype = to_data_type(t.scalar_type());
      if (!dtype)
        return Unimplemented("output '" + named[i].first + "' has dtype " + std::string(c10::toString(t.scalar_type())) +
                             ", which has no KServe datatype");
      auto owner = std::make_shared<at::Tensor>(std::move(t));
      POLARIS_ASSIGN_OR_RETURN(Tensor tensor, Tensor::borrow(*dtype, Shape(owner->sizes().vec()), owner->data_ptr(),
                                                              owner->nbytes(), owner));
      out.push_back(NamedTensor{named[i].first, std::move(tensor)});
    }
    return out;
  } catch (const std::exception& e) {
    return Internal("torch backend failed to run '" + metadata().name + "': " + engine_message(e));
  }
}

}  // namespace polaris::torch_backend
