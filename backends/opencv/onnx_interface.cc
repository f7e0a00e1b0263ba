#include "backends/opencv/onnx_interface.h"

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "backends/opencv/onnx_model_subset.pb.h"

namespace polaris::opencv {
namespace {

namespace subset = polaris::onnx_subset;

Result<TensorInfo> tensor_info(const subset::ValueInfoProto& value, bool& rank_known) {
  TensorInfo info;
  info.name = value.name();
  rank_known = false;
  if (!value.type().has_tensor_type()) return info;  // sequence/map/optional: kInvalid
  const auto& tensor = value.type().tensor_type();
  info.dtype = data_type_from_onnx(tensor.elem_type()).value_or(DataType::kInvalid);
  if (!tensor.has_shape()) return info;
  rank_known = true;
  if (static_cast<std::size_t>(tensor.shape().dim_size()) > Shape::kMaxRank)
    return InvalidArgument("tensor '" + info.name + "' has rank " + std::to_string(tensor.shape().dim_size()) +
                           ", more than " + std::to_string(Shape::kMaxRank));
  std::vector<int64_t> dims;
  bool any_named = false;
  for (const auto& dim : tensor.shape().dim()) {
    // dim_param ("batch") or no value at all: dynamic.
    dims.push_back(dim.has_dim_value() && dim.dim_value() >= 0 ? dim.dim_value() : Shape::kDynamic);
    info.dim_names.push_back(dim.has_dim_param() ? dim.dim_param() : "");
    any_named |= dim.has_dim_param() && !dim.dim_param().empty();
  }
  if (!any_named) info.dim_names.clear();
  info.shape = Shape(std::move(dims));
  return info;
}

}  // namespace

Result<OnnxInterface> read_onnx_interface(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("cannot open model file '" + path + "': " + std::strerror(errno));
  subset::ModelProto model;
  bool parsed = false;
  {
    // Streams the file: weights are unknown fields to the subset, which
    // protobuf keeps while `model` lives (a transient copy, freed on return).
    google::protobuf::io::FileInputStream stream(fd);
    stream.SetCloseOnDelete(true);
    parsed = model.ParseFromZeroCopyStream(&stream);
  }
  const std::string not_onnx = "'" + path + "' is not a readable ONNX model: ";
  if (!parsed) return InvalidArgument(not_onnx + "protobuf parsing failed (truncated, corrupt or another format)");
  if (!model.has_ir_version() || model.ir_version() <= 0 || !model.has_graph())
    return InvalidArgument(not_onnx + "no ir_version or no graph");
  const auto& graph = model.graph();
  if (graph.output_size() == 0) return InvalidArgument(not_onnx + "the graph has no outputs");

  OnnxInterface result;
  std::set<std::string> initializers;
  for (const auto& init : graph.initializer()) initializers.insert(init.name());
  for (const auto& input : graph.input()) {
    if (initializers.count(input.name())) continue;  // a weight, not a model input (IR < 4)
    bool rank_known = false;
    POLARIS_ASSIGN_OR_RETURN(TensorInfo info, tensor_info(input, rank_known));
    result.inputs.push_back(std::move(info));
    result.input_rank_known.push_back(rank_known);
  }
  for (const auto& output : graph.output()) {
    bool rank_known = false;
    POLARIS_ASSIGN_OR_RETURN(TensorInfo info, tensor_info(output, rank_known));
    result.outputs.push_back(std::move(info));
    result.output_rank_known.push_back(rank_known);
  }

  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) result.info[key] = value;
  };
  put("ir_version", std::to_string(model.ir_version()));
  for (const auto& opset : model.opset_import())
    if (opset.domain().empty() || opset.domain() == "ai.onnx") put("opset", std::to_string(opset.version()));
  put("producer", model.producer_name());
  put("producer_version", model.producer_version());
  put("domain", model.domain());
  if (model.has_model_version()) put("model_version", std::to_string(model.model_version()));
  put("description", model.doc_string());
  put("graph_name", graph.name());
  put("graph_description", graph.doc_string());
  put("node_count", std::to_string(graph.node_size()));
  return result;
}

}  // namespace polaris::opencv
