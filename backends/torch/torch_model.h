// TorchModel: one loaded TorchScript module behind the Model interface.
//
// Private to the torch backend module: this header includes libtorch (a
// ~14 s parse), so only the backend's own torch_*.cc files may include it.
//
// Thread-safety: run() holds a per-model mutex. TorchScript forward is
// thread-safe for stateless modules, but modules may keep state in attributes
// (silero VAD keeps its recurrent state inside the module) and concurrent
// runs would interleave it; batching adds model instances when one is not
// enough. metadata() is lock-free and may run concurrently with run(): the
// published metadata is immutable, and the one refinement after the first
// run (observed dtypes and shapes) publishes a new version while keeping the
// old one alive, so a reference handed out earlier stays valid.
#pragma once

#include <torch/script.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace polaris::torch_backend {

// How a forward() argument is fed from an input tensor. Scalar arguments
// (int, float, bool, e.g. silero VAD's `sr: int`) take a one-element tensor.
enum class ArgKind { kTensor, kInt, kFloat, kBool, kUnsupported };

struct ArgInfo {
  std::string name;
  ArgKind kind = ArgKind::kTensor;
  bool has_default = false;  // may be omitted
  std::string type;          // the schema's type, e.g. "Tensor", "int", "List[Tensor]"
  DataType declared_dtype = DataType::kInvalid;  // from the spec; enforced when set
  std::optional<Shape> declared_shape;           // from the spec; enforced when set
};

// dtype mapping; nullopt where the other side has no equivalent.
std::optional<at::ScalarType> to_scalar_type(DataType type);
std::optional<DataType> to_data_type(at::ScalarType type);

// Describes forward()'s arguments (self skipped) and returns its schema text.
Result<std::vector<ArgInfo>> describe_forward(const torch::jit::Module& module, std::string* schema);
// Input and output TensorInfos at load: names from the schema, dtypes and
// shapes from the spec (scalar arguments: INT64/FP64/BOOL, shape [1]); the
// spec's input names must be forward's arguments.
Status describe_tensors(const torch::jit::Module& module, const std::vector<TensorInfo>& spec_inputs,
                        const std::vector<TensorInfo>& spec_outputs, std::vector<ArgInfo>& args,
                        ModelMetadata& metadata);
// Parameter count and bytes, and buffer bytes, of a module and its children.
struct ParameterStats {
  uint64_t parameter_count = 0;
  uint64_t parameter_bytes = 0;
  uint64_t buffer_bytes = 0;
};
ParameterStats parameter_stats(const torch::jit::Module& module);
// forward()'s graph with every submodule call inlined, so one walk sees every
// op; a copy, the module is untouched.
std::shared_ptr<torch::jit::Graph> inlined_forward(const torch::jit::Module& module);
// The same counts for an archive saved frozen (torch.jit.freeze before
// save, as scripts/make-models does): it has no parameters left, its weights
// are the graph's tensor constants. Floating-point constants of rank >= 1
// count (0-dim ones are scalars such as a traced `x / 16.0`); shared storage
// counts once.
ParameterStats constant_stats(const torch::jit::Graph& graph);
// A copy of `metadata` whose unknown dtypes and shapes are filled from one
// successful run. Dim 0 of observed tensors is reported as -1: it is taken
// to be the batch dimension, which varies between requests.
ModelMetadata with_observed(const ModelMetadata& metadata, const NamedTensors& inputs,
                            const std::vector<std::pair<std::string, at::Tensor>>& outputs);
// forward()'s result as named outputs (see positional_output_name).
using NamedOutputs = std::vector<std::pair<std::string, at::Tensor>>;
Result<NamedOutputs> name_outputs(const c10::IValue& result, const std::vector<TensorInfo>& declared_outputs);
// The engine's message for an exception (no C++ backtrace), one line.
std::string engine_message(const std::exception& e);

class TorchModel final : public Model {
 public:
  TorchModel(torch::jit::Module module, c10::Device device, std::vector<ArgInfo> args, ModelMetadata metadata,
             std::vector<TensorInfo> declared_outputs, bool graph_optimize);
  const ModelMetadata& metadata() const override { return *metadata_.load(std::memory_order_acquire); }
  Result<NamedTensors> run(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs) override;

 private:
  Result<torch::jit::Kwargs> to_arguments(const NamedTensors& inputs, std::vector<at::Tensor>& keep) const;

  const c10::Device device_;
  const std::vector<ArgInfo> args_;
  const std::vector<TensorInfo> declared_outputs_;
  const bool graph_optimize_;  // false at OptimizationLevel::kDisable

  std::mutex run_mu_;
  torch::jit::Module module_;  // guarded by run_mu_
  bool observed_ = false;      // guarded by run_mu_: metadata refined from a run
  std::vector<std::unique_ptr<const ModelMetadata>> versions_;  // guarded by run_mu_; never shrinks
  std::atomic<const ModelMetadata*> metadata_;  // the newest of versions_
};

}  // namespace polaris::torch_backend
