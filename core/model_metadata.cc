#include "core/model_metadata.h"

#include <nlohmann/json.hpp>

namespace polaris {
namespace {

const TensorInfo* find_tensor(const std::vector<TensorInfo>& tensors, const std::string& name) {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

double to_mb(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

const TensorInfo* ModelMetadata::find_input(const std::string& input_name) const {
  return find_tensor(inputs, input_name);
}

const TensorInfo* ModelMetadata::find_output(const std::string& output_name) const {
  return find_tensor(outputs, output_name);
}

nlohmann::json to_json(const TensorInfo& info) {
  nlohmann::json j = {{"name", info.name}, {"datatype", to_string(info.dtype)}, {"shape", info.shape.dims()}};
  if (!info.dim_names.empty()) j["dim_names"] = info.dim_names;
  return j;
}

nlohmann::json to_json(const ModelMetadata& m) {
  nlohmann::json j;
  j["name"] = m.name;
  j["framework"] = m.framework;
  j["path"] = m.path;
  auto names = nlohmann::json::array(), shapes = nlohmann::json::array(), dtypes = nlohmann::json::array();
  for (const char* side : {"input", "output"}) {
    const auto& tensors = std::string(side) == "input" ? m.inputs : m.outputs;
    names = shapes = dtypes = nlohmann::json::array();
    auto detail = nlohmann::json::array();
    for (const auto& t : tensors) {
      names.push_back(t.name);
      shapes.push_back(t.shape.dims());
      dtypes.push_back(to_string(t.dtype));
      detail.push_back(to_json(t));
    }
    j[std::string(side) + "_names"] = names;
    j[std::string(side) + "_shapes"] = shapes;
    j[std::string(side) + "_dtypes"] = dtypes;
    j[std::string(side) + "s"] = detail;
  }
  j["file_size_bytes"] = m.file_size_bytes;
  j["file_size_mb"] = to_mb(m.file_size_bytes);
  j["predicted_memory_bytes"] = m.predicted_memory_bytes;
  j["estimated_memory_mb"] = to_mb(m.predicted_memory_bytes);
  j["measured_memory_bytes"] = m.measured_memory_bytes;
  j["measured_memory_mb"] = to_mb(m.measured_memory_bytes);
  j["provider"] = m.provider;
  j["optimization_level"] = m.optimization_level;
  j["extra_info"] = m.extra_info;
  return j;
}

}  // namespace polaris
