// Reads an ONNX file's interface (graph inputs and outputs with element types
// and shapes, plus descriptive fields) with Polaris's own protobuf subset of
// the ONNX format (onnx_model_subset.proto), because OpenCV DNN does not
// expose input/output names, dtypes and shapes reliably.
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/model_metadata.h"
#include "core/status.h"

namespace polaris::opencv {

// Protobuf messages cannot exceed 2 GiB; bigger ONNX models keep their
// weights in external data files, which OpenCV 4.6 cannot read.
inline constexpr uint64_t kMaxModelFileBytes = (uint64_t{1} << 31) - 1;

struct OnnxInterface {
  // Graph inputs that are not initializers (IR < 4 lists weights as inputs
  // too), and graph outputs, in file order. Dynamic dims are -1.
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  // False where the file gives an input no shape at all (unknown rank), as
  // opposed to a scalar (rank 0).
  std::vector<bool> input_rank_known;
  std::vector<bool> output_rank_known;
  // ir_version, opset, producer, producer_version, domain, model_version,
  // description, graph_name, graph_description, node_count.
  std::map<std::string, std::string> info;
};

// NotFound when the file cannot be opened; InvalidArgument when it is not a
// parsable ONNX model (empty, truncated, another format, no graph outputs).
Result<OnnxInterface> read_onnx_interface(const std::string& path);

}  // namespace polaris::opencv
