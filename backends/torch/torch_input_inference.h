// Input and output types of a TorchScript model that comes without a spec.
//
// A TorchScript archive records forward()'s argument names but no dtypes or
// shapes, so a model without a spec (sidecar .json or the "inputs" load
// parameter) used to report no input types until its first request: no
// warm-up, no metadata for clients to build a request from, no
// `polaris predict --random`. This file fills the gap at load, in order of
// trust:
//   1. the spec, when it declares the input (describe_tensors put it there);
//   2. the graph: the first op that consumes the input says what it takes
//      (a convolution's weight gives the rank and channel count, a linear
//      layer's weight the last dim, both the dtype); other dims stay -1;
//   3. a probe: float32 zeros of a few common shapes; an input counts as
//      known only when exactly one of them runs (a model that runs on every
//      shape, such as an element-wise one, constrains nothing, and guessing
//      a shape for it would make the server refuse requests it can serve).
// Once every required input is known one probe run names the outputs and
// gives their dtypes and shapes (a second run at another size shows which
// output dims follow the input's dynamic dims). Models whose forward()
// assigns module attributes (in-module state, such as silero VAD's) are
// never probed: a probe would change what their first request sees.
//
// extra_info records the outcome: "input_shape_source" (config, sidecar,
// schema, graph, probe or unknown; "name=source, ..." when inputs differ),
// "input_shape_inference" (per input, how) and "output_shape_source".
//
// Private to the torch backend module (includes libtorch).
// Thread-safety: none needed; called once per load, before the model is shared.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/torch/torch_model.h"

namespace polaris::torch_backend {

// Per input (parallel to metadata.inputs): where its dtype/shape came from
// and, for graph and probe, how.
struct TensorSources {
  std::vector<std::string> inputs;
  std::vector<std::string> details;
  std::string outputs;
  bool mutates_state = false;  // forward() assigns module attributes: no probe runs
};

// Before optimization (optimize_for_inference rewrites convolutions into
// layout conversions that hide the weights): sources for the spec's and the
// schema's inputs, then graph inference for the rest. `spec_source` is
// ModelSpec::source.
TensorSources infer_inputs_from_graph(const torch::jit::Module& module, const torch::jit::Graph& inlined_forward,
                                      const std::vector<ArgInfo>& args, const std::string& spec_source,
                                      ModelMetadata& metadata);

// After optimization, on the module requests will run: probes inputs still
// unknown, then learns the outputs with one or two runs; records the sources
// in metadata.extra_info.
void probe_tensors(torch::jit::Module& module, c10::Device device, bool graph_optimize,
                   const std::vector<ArgInfo>& args, const std::vector<TensorInfo>& declared_outputs,
                   TensorSources& sources, ModelMetadata& metadata);

}  // namespace polaris::torch_backend
