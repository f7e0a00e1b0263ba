// ModelMetadata: what a loaded model is, with the seed's fields.
//
// Filled by a backend at load time and reported by `polaris info`, the
// server's metadata endpoints and the repository index. Memory is in bytes;
// the seed's *_mb fields are derived when printing.
// Thread-safety: value type.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/data_type.h"
#include "core/shape.h"

namespace polaris {

struct TensorInfo {
  std::string name;
  DataType dtype = DataType::kInvalid;
  Shape shape;  // -1 for dynamic dims
  // Symbolic names of dynamic dims ("batch"), "" where a dim has none;
  // empty when the engine names no dim at all.
  std::vector<std::string> dim_names;
};

struct ModelMetadata {
  std::string name;
  std::string framework;  // "onnx" | "torchscript"
  std::string path;
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  uint64_t file_size_bytes = 0;
  uint64_t predicted_memory_bytes = 0;  // before load: file size x backend factor
  uint64_t measured_memory_bytes = 0;   // after load: RSS delta (+ engine stats)
  std::string provider;                 // e.g. CPUExecutionProvider, cpu, cuda:0
  int optimization_level = 0;
  std::map<std::string, std::string> extra_info;

  const TensorInfo* find_input(const std::string& input_name) const;
  const TensorInfo* find_output(const std::string& output_name) const;
};

// JSON with the seed's field names (name, framework, input_names,
// input_shapes, input_dtypes, ..., file_size_mb, estimated_memory_mb,
// provider, optimization_level, extra_info) plus exact byte counts and the
// per-tensor detail (inputs/outputs with dim_names).
nlohmann::json to_json(const ModelMetadata& metadata);
nlohmann::json to_json(const TensorInfo& info);

}  // namespace polaris
