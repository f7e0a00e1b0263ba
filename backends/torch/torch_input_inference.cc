// Input and output types of a TorchScript model without a spec: see
// torch_input_inference.h for the order of trust and what is recorded.
#include "backends/torch/torch_input_inference.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <optional>
#include <set>

#include "backends/torch/torch_spec.h"

namespace polaris::torch_backend {
namespace {

using torch::jit::Node;
using torch::jit::Value;
namespace prim = c10::prim;
namespace aten = c10::aten;

// What the graph says about one input, and the op that said it.
struct Guess {
  DataType dtype = DataType::kInvalid;
  Shape shape;
  std::string how;
};

std::string dims_text(const at::Tensor& t) {
  std::string out;
  for (int64_t d : t.sizes()) out += (out.empty() ? "" : "x") + std::to_string(d);
  return out;
}

// The constant (or module attribute) a value holds, if the graph fixes it:
// prim::Constant (frozen modules), or a chain of prim::GetAttr from self
// (unfrozen ones keep weights as attributes).
class Resolver {
 public:
  Resolver(const torch::jit::Module& module, const torch::jit::Graph& graph)
      : self_(module._ivalue()), self_value_(graph.inputs().empty() ? nullptr : graph.inputs()[0]) {}

  std::optional<c10::IValue> value(const Value* v, int depth = 0) const {
    if (v == self_value_) return c10::IValue(self_);
    if (depth > 16) return std::nullopt;
    const Node* n = v->node();
    if (n->kind() == prim::Constant) return torch::jit::toIValue(v);
    if (n->kind() == prim::GetAttr) {
      auto owner = value(n->input(0), depth + 1);
      if (!owner || !owner->isObject()) return std::nullopt;
      const auto& object = owner->toObjectRef();
      const std::string& name = n->s(c10::attr::name);
      if (!object.type()->hasAttribute(name)) return std::nullopt;
      return object.getAttr(name);
    }
    return std::nullopt;
  }
  // A tensor the graph fixes; aten::t of one counts as its transpose.
  std::optional<at::Tensor> tensor(const Value* v) const {
    if (v->node()->kind() == aten::t) {
      auto inner = tensor(v->node()->input(0));
      if (inner && inner->dim() == 2) return inner->t();
      return std::nullopt;
    }
    auto iv = value(v);
    if (!iv || !iv->isTensor() || !iv->toTensor().defined()) return std::nullopt;
    return iv->toTensor();
  }
  std::optional<int64_t> integer(const Value* v) const {
    auto iv = value(v);
    if (!iv || !iv->isInt()) return std::nullopt;
    return iv->toInt();
  }
  std::optional<bool> boolean(const Value* v) const {
    auto iv = value(v);
    if (!iv || !iv->isBool()) return std::nullopt;
    return iv->toBool();
  }

 private:
  c10::intrusive_ptr<c10::ivalue::Object> self_;
  const Value* self_value_;
};

// Ops that keep their input's rank, channels and dtype, so the op after
// them says what the input is (digits: `input / 16.0`, then linear).
// Padding is deliberately not followed: EfficientNet-Lite0's traced "same"
// padding has fixed amounts and fails on small images, so [-1,3,-1,-1] would
// invite requests (and the default warm-up's 1x1) it rejects; the probe finds
// the [1,3,224,224] it was traced at instead, as its ONNX twin declares.
// Arithmetic counts only with a constant or scalar other operand: with a
// second tensor input, broadcasting could change the shape.
bool passes_through(const Node* n, std::size_t offset) {
  static const std::set<std::string> unary = {
      "aten::relu", "aten::sigmoid", "aten::tanh", "aten::contiguous", "aten::clone", "aten::detach",
      "aten::dropout", "aten::feature_dropout", "aten::neg", "aten::abs", "aten::clamp", "aten::hardtanh",
      "aten::gelu", "aten::relu6", "aten::relu_", "aten::dropout_"};
  static const std::set<std::string> binary = {"aten::div", "aten::mul", "aten::add", "aten::sub",
                                               "aten::true_divide"};
  const std::string kind = n->kind().toQualString();
  if (unary.count(kind)) return offset == 0;
  if (!binary.count(kind) || n->inputs().size() < 2 || offset > 1) return false;
  const Value* other = n->input(1 - offset);
  return other->node()->kind() == prim::Constant || !other->type()->cast<c10::TensorType>();
}

std::optional<DataType> weight_dtype(const at::Tensor& w) {
  if (w.is_quantized()) return std::nullopt;  // quantized models take float input; their weights say nothing
  return to_data_type(w.scalar_type());
}

std::optional<Guess> guess_from_op(const Node* n, std::size_t offset, const Resolver& r) {
  const auto kind = n->kind();
  const std::string op = kind.toQualString();
  const bool conv = kind == aten::_convolution || kind == aten::conv1d || kind == aten::conv2d ||
                    kind == aten::conv3d || kind == aten::convolution;
  const bool conv_t =
      kind == aten::conv_transpose1d || kind == aten::conv_transpose2d || kind == aten::conv_transpose3d;
  if ((conv || conv_t) && offset == 0 && n->inputs().size() >= 2) {
    auto w = r.tensor(n->input(1));
    if (!w || w->dim() < 3) return std::nullopt;
    auto dtype = weight_dtype(*w);
    if (!dtype) return std::nullopt;
    // Signatures: conv{1,2,3}d(input, weight, bias, stride, padding, dilation, groups);
    // conv_transpose{1,2,3}d(input, weight, bias, stride, padding, output_padding, groups, dilation);
    // _convolution / convolution(input, weight, bias, stride, padding, dilation, transposed,
    //                            output_padding, groups, ...).
    bool transposed = conv_t;
    std::size_t groups_at = 6;
    if (kind == aten::_convolution || kind == aten::convolution) {
      groups_at = 8;
      if (n->inputs().size() > 6) transposed = r.boolean(n->input(6)).value_or(false);
    }
    const int64_t groups = n->inputs().size() > groups_at ? r.integer(n->input(groups_at)).value_or(1) : 1;
    // A weight is [out, in/groups, k...], transposed [in, out/groups, k...].
    const int64_t channels = transposed ? w->size(0) : w->size(1) * groups;
    std::vector<int64_t> dims(static_cast<std::size_t>(w->dim()), Shape::kDynamic);
    dims[1] = channels;
    return Guess{*dtype, Shape(std::move(dims)),
                 op + " weight " + dims_text(*w) + ", groups " + std::to_string(groups)};
  }
  // linear(input, weight [out, in]); matmul(input, W [in, out] or [in]);
  // addmm(bias, input, W [in, out]).
  std::optional<at::Tensor> w;
  int64_t in_features = 0;
  if (kind == aten::linear && offset == 0) {
    w = r.tensor(n->input(1));
    if (w && w->dim() == 2) in_features = w->size(1);
  } else if ((kind == aten::matmul || kind == aten::mm) && offset == 0) {
    w = r.tensor(n->input(1));
    if (w && (w->dim() == 1 || w->dim() == 2)) in_features = w->size(0);
  } else if (kind == aten::addmm && offset == 1) {
    w = r.tensor(n->input(2));
    if (w && w->dim() == 2) in_features = w->size(0);
  } else if (kind == aten::embedding && offset == 1) {
    // embedding(weight, indices): the input is indices of any shape.
    return Guess{DataType::kInt64, Shape{Shape::kDynamic, Shape::kDynamic}, op + " (indices)"};
  }
  if (in_features <= 0) return std::nullopt;
  auto dtype = weight_dtype(*w);
  if (!dtype) return std::nullopt;
  // The rank is what a linear layer's input usually has ([batch, features]);
  // the op itself would also take more leading dims.
  return Guess{*dtype, Shape{Shape::kDynamic, in_features}, op + " weight " + dims_text(*w)};
}

// The first op along the input's uses (through pass-through ops) that says
// what the input is.
std::optional<Guess> guess_input(const Value* v, const Resolver& r, int depth = 0) {
  if (depth > 8) return std::nullopt;
  for (const torch::jit::Use& use : v->uses()) {
    if (auto guess = guess_from_op(use.user, use.offset, r)) return guess;
  }
  for (const torch::jit::Use& use : v->uses()) {
    if (!passes_through(use.user, use.offset)) continue;
    if (auto guess = guess_input(use.user->output(0), r, depth + 1)) {
      guess->how = std::string(use.user->kind().toQualString()) + " -> " + guess->how;
      return guess;
    }
  }
  return std::nullopt;
}

// forward() assigns an attribute (self.state = ...) or updates one in place
// (self.buf.add_(...)): a run changes what the next one sees.
bool mutates_module_state(const torch::jit::Block* block) {
  for (const Node* n : block->nodes()) {
    for (const torch::jit::Block* inner : n->blocks())
      if (mutates_module_state(inner)) return true;
    if (n->kind() == prim::SetAttr) return true;
    const std::string name = n->kind().toUnqualString();
    const bool in_place = n->kind().is_aten() && name.size() > 1 && name.back() == '_' && name.front() != '_';
    if (in_place && !n->inputs().empty() && n->input(0)->node()->kind() == prim::GetAttr) return true;
  }
  return false;
}

std::string spec_label(const std::string& spec_source) {
  return spec_source.find("parameter '") != std::string::npos ? "config" : "sidecar";
}

bool required(const ArgInfo& arg) { return !arg.has_default; }

// Zeros for every input: known dims as they are, dim 0 (batch) 1, other
// dynamic dims `fill`; `unknown` gives the shape of inputs still unknown
// (float32). Scalar arguments with a default are left out, others get 0.
std::optional<torch::jit::Kwargs> probe_arguments(const std::vector<ArgInfo>& args, const ModelMetadata& md,
                                                  c10::Device device, int64_t fill,
                                                  const std::vector<int64_t>* unknown) {
  torch::jit::Kwargs kwargs;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const ArgInfo& arg = args[i];
    const TensorInfo& info = md.inputs[i];
    switch (arg.kind) {
      case ArgKind::kInt: if (!arg.has_default) kwargs[arg.name] = c10::IValue(int64_t{0}); continue;
      case ArgKind::kFloat: if (!arg.has_default) kwargs[arg.name] = c10::IValue(0.0); continue;
      case ArgKind::kBool: if (!arg.has_default) kwargs[arg.name] = c10::IValue(false); continue;
      case ArgKind::kUnsupported: if (!arg.has_default) return std::nullopt; continue;
      case ArgKind::kTensor: break;
    }
    std::vector<int64_t> dims;
    at::ScalarType type = at::kFloat;
    if (info.dtype != DataType::kInvalid) {
      auto t = to_scalar_type(info.dtype);
      if (!t) return std::nullopt;
      type = *t;
    }
    if (info.dtype != DataType::kInvalid && info.shape.rank() > 0) {
      dims = info.shape.dims();
      for (std::size_t d = 0; d < dims.size(); ++d)
        if (dims[d] < 0) dims[d] = d == 0 ? 1 : fill;
    } else if (unknown != nullptr) {
      dims = *unknown;
    } else if (arg.has_default) {
      continue;
    } else {
      return std::nullopt;
    }
    kwargs[arg.name] = at::zeros(dims, at::TensorOptions().dtype(type).device(device));
  }
  return kwargs;
}

struct ProbeRun {
  bool ok = false;
  NamedOutputs outputs;
  std::string error;
};

ProbeRun run_once(torch::jit::Module& module, bool graph_optimize, const torch::jit::Kwargs& kwargs,
                  const std::vector<TensorInfo>& declared_outputs) {
  ProbeRun run;
  try {
    c10::InferenceMode inference;
    torch::jit::GraphOptimizerEnabledGuard optimize(graph_optimize);
    c10::IValue result = module.get_method("forward")({}, kwargs);
    auto named = name_outputs(result, declared_outputs);
    if (!named.ok()) {
      run.error = named.status().message();
      return run;
    }
    for (auto& [name, t] : *named)
      if (!to_data_type(t.scalar_type())) {
        run.error = "output '" + name + "' has no KServe datatype";
        return run;
      }
    run.outputs = std::move(named).value();
    run.ok = true;
  } catch (const std::exception& e) {
    run.error = engine_message(e);
  }
  return run;
}

std::string shape_text(const std::vector<int64_t>& dims) { return Shape(dims).to_string(); }

// Probes inputs still unknown with common shapes; they become known only
// when exactly one shape runs (see the header).
void probe_unknown_inputs(torch::jit::Module& module, c10::Device device, bool graph_optimize,
                          const std::vector<ArgInfo>& args, const std::vector<TensorInfo>& declared_outputs,
                          TensorSources& sources, ModelMetadata& md) {
  std::vector<std::size_t> unknown;
  for (std::size_t i = 0; i < args.size(); ++i)
    if (args[i].kind == ArgKind::kTensor && md.inputs[i].dtype == DataType::kInvalid) unknown.push_back(i);
  if (unknown.empty()) return;
  static const std::vector<std::vector<int64_t>> kCandidates = {
      {1, 3, 224, 224}, {1, 1, 28, 28}, {1, 784}, {1, 1}, {1, 3}, {1, 8}, {1, 16}, {1, 32},
      {1, 64}, {1, 128}, {1, 256}, {1, 512}, {1, 768}, {1, 1024}};
  std::vector<std::vector<int64_t>> ran;
  for (const auto& candidate : kCandidates) {
    auto kwargs = probe_arguments(args, md, device, 1, &candidate);
    if (!kwargs) return;  // an argument the probe cannot build
    if (run_once(module, graph_optimize, *kwargs, declared_outputs).ok) ran.push_back(candidate);
    if (ran.size() > 1) break;  // runs on two shapes: it constrains nothing
  }
  std::string note;
  if (ran.size() == 1) {
    std::vector<int64_t> dims = ran[0];
    dims[0] = Shape::kDynamic;  // taken to be the batch, as after a first request
    for (std::size_t i : unknown) {
      md.inputs[i].dtype = DataType::kFp32;
      md.inputs[i].shape = Shape(dims);
      sources.inputs[i] = "probe";
      sources.details[i] = "probe: float32 zeros " + shape_text(ran[0]) + " was the only candidate shape that ran";
    }
    return;
  }
  note = ran.empty() ? "probe: no candidate shape ran (float32 zeros " + shape_text(kCandidates[0]) + ", ...)"
                     : "probe: runs on " + shape_text(ran[0]) + " and " + shape_text(ran[1]) +
                           ", so the shape is not fixed; learned from the first request";
  for (std::size_t i : unknown) sources.details[i] = note;
}

// Sizes for dynamic non-batch dims (images, sequences) in the output runs.
const std::vector<int64_t> kDynamicFills = {224, 32, 28, 64, 16, 8, 1};

// With every required input known: outputs from one run; where inputs have
// dynamic non-batch dims, a second run at another size marks the output
// dims that followed them as -1.
void learn_outputs(torch::jit::Module& module, c10::Device device, bool graph_optimize,
                   const std::vector<ArgInfo>& args, const std::vector<TensorInfo>& declared_outputs,
                   TensorSources& sources, ModelMetadata& md) {
  bool dynamic_inner = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].kind != ArgKind::kTensor) continue;
    if (md.inputs[i].dtype == DataType::kInvalid && required(args[i])) {
      sources.outputs = "unknown until the first request (an input is unknown)";
      return;
    }
    const auto& dims = md.inputs[i].shape.dims();
    for (std::size_t d = 1; d < dims.size(); ++d) dynamic_inner = dynamic_inner || dims[d] < 0;
  }
  std::vector<ProbeRun> runs;
  std::string last_error;
  for (int64_t fill : kDynamicFills) {
    auto kwargs = probe_arguments(args, md, device, fill, nullptr);
    if (!kwargs) {
      sources.outputs = "unknown until the first request (an argument the probe cannot build)";
      return;
    }
    ProbeRun run = run_once(module, graph_optimize, *kwargs, declared_outputs);
    if (run.ok) runs.push_back(std::move(run));
    else last_error = run.error;
    if (!runs.empty() && (!dynamic_inner || runs.size() == 2)) break;
    if (!dynamic_inner && runs.empty()) break;  // no other size to try
  }
  if (runs.empty()) {
    sources.outputs = "unknown until the first request (the probe run failed: " + last_error + ")";
    return;
  }
  std::vector<TensorInfo> learned;
  for (std::size_t k = 0; k < runs[0].outputs.size(); ++k) {
    const auto& [name, t] = runs[0].outputs[k];
    std::vector<int64_t> dims = t.sizes().vec();
    if (!dims.empty()) dims[0] = Shape::kDynamic;  // the batch
    if (runs.size() == 2 && k < runs[1].outputs.size() && runs[1].outputs[k].second.dim() == t.dim()) {
      const auto other = runs[1].outputs[k].second.sizes();
      for (std::size_t d = 1; d < dims.size(); ++d)
        if (other[d] != dims[d]) dims[d] = Shape::kDynamic;
    }
    learned.push_back(TensorInfo{name, *to_data_type(t.scalar_type()), Shape(std::move(dims)), {}});
  }
  if (declared_outputs.empty()) {
    md.outputs = std::move(learned);
  } else {
    for (auto& info : md.outputs)
      for (const auto& l : learned)
        if (l.name == info.name) {
          if (info.dtype == DataType::kInvalid) info.dtype = l.dtype;
          if (info.shape.rank() == 0) info.shape = l.shape;
        }
  }
  sources.outputs = "probe (" + std::to_string(runs.size()) + " run" + (runs.size() == 1 ? "" : "s") + " of zeros)";
}

void record(const TensorSources& sources, ModelMetadata& md) {
  std::string summary, details;
  bool uniform = true;
  for (std::size_t i = 0; i < sources.inputs.size(); ++i) {
    uniform = uniform && sources.inputs[i] == sources.inputs[0];
    summary += (summary.empty() ? "" : ", ") + md.inputs[i].name + "=" + sources.inputs[i];
    if (!sources.details[i].empty())
      details += (details.empty() ? "" : "; ") + md.inputs[i].name + ": " + sources.details[i];
  }
  if (!sources.inputs.empty()) md.extra_info["input_shape_source"] = uniform ? sources.inputs[0] : summary;
  if (!details.empty()) md.extra_info["input_shape_inference"] = details;
  if (!sources.outputs.empty()) md.extra_info["output_shape_source"] = sources.outputs;
}

}  // namespace

TensorSources infer_inputs_from_graph(const torch::jit::Module& module, const torch::jit::Graph& graph,
                                      const std::vector<ArgInfo>& args, const std::string& spec_source,
                                      ModelMetadata& md) {
  TensorSources sources;
  sources.inputs.assign(args.size(), "unknown");
  sources.details.assign(args.size(), "");
  sources.mutates_state = mutates_module_state(graph.block());
  bool outputs_known = !md.outputs.empty();
  for (const auto& t : md.outputs) outputs_known = outputs_known && t.dtype != DataType::kInvalid;
  if (outputs_known) sources.outputs = spec_label(spec_source);  // only a spec gives output dtypes at load
  const Resolver resolver(module, graph);
  // Graph inputs are self, then forward()'s arguments in order.
  const bool has_self = graph.inputs().size() == args.size() + 1;
  for (std::size_t i = 0; i < args.size(); ++i) {
    TensorInfo& info = md.inputs[i];
    if (args[i].kind != ArgKind::kTensor) {
      sources.inputs[i] = "schema";
      continue;
    }
    if (info.dtype != DataType::kInvalid) {
      sources.inputs[i] = spec_label(spec_source);
      continue;
    }
    if (!has_self) continue;
    auto guess = guess_input(graph.inputs()[i + 1], resolver);
    if (!guess) continue;
    // A spec may name the input with a shape but no dtype: its shape stands.
    info.dtype = guess->dtype;
    if (info.shape.rank() == 0) info.shape = guess->shape;
    sources.inputs[i] = "graph";
    sources.details[i] = "graph: " + guess->how;
  }
  return sources;
}

void probe_tensors(torch::jit::Module& module, c10::Device device, bool graph_optimize,
                   const std::vector<ArgInfo>& args, const std::vector<TensorInfo>& declared_outputs,
                   TensorSources& sources, ModelMetadata& md) {
  bool outputs_known = !md.outputs.empty();
  for (const auto& t : md.outputs) outputs_known = outputs_known && t.dtype != DataType::kInvalid;
  if (sources.mutates_state) {
    if (!outputs_known)
      sources.outputs = "unknown until the first request (forward() changes module state: not probed)";
    for (std::size_t i = 0; i < args.size(); ++i)
      if (sources.inputs[i] == "unknown") sources.details[i] = "not probed: forward() changes module state";
  } else {
    probe_unknown_inputs(module, device, graph_optimize, args, declared_outputs, sources, md);
    if (!outputs_known) learn_outputs(module, device, graph_optimize, args, declared_outputs, sources, md);
  }
  record(sources, md);
}

}  // namespace polaris::torch_backend
