#include "backends/torch/torch_spec.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace polaris::torch_backend {
namespace {

namespace fs = std::filesystem;

Result<TensorInfo> parse_one(const nlohmann::json& entry, const std::string& what, std::size_t index) {
  const std::string where = what + " entry " + std::to_string(index);
  if (!entry.is_object()) return InvalidArgument(where + " is not an object");
  TensorInfo info;
  auto name = entry.find("name");
  if (name == entry.end() || !name->is_string() || name->get<std::string>().empty())
    return InvalidArgument(where + " has no \"name\" string");
  info.name = name->get<std::string>();
  if (auto dt = entry.find("datatype"); dt != entry.end()) {
    if (!dt->is_string()) return InvalidArgument(where + " ('" + info.name + "'): \"datatype\" is not a string");
    auto parsed = data_type_from_string(dt->get<std::string>());
    if (!parsed) parsed = data_type_from_config_string(dt->get<std::string>());  // "TYPE_FP32" too
    if (!parsed)
      return InvalidArgument(where + " ('" + info.name + "'): unknown datatype '" + dt->get<std::string>() + "'");
    info.dtype = *parsed;
  }
  if (auto shape = entry.find("shape"); shape != entry.end()) {
    if (!shape->is_array()) return InvalidArgument(where + " ('" + info.name + "'): \"shape\" is not an array");
    std::vector<int64_t> dims;
    for (const auto& d : *shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < -1)
        return InvalidArgument(where + " ('" + info.name + "'): shape dims must be integers >= -1");
      dims.push_back(d.get<int64_t>());
    }
    info.shape = Shape(std::move(dims));
  }
  return info;
}

Result<std::vector<TensorInfo>> parse_array(const nlohmann::json& array, const std::string& what) {
  if (!array.is_array()) return InvalidArgument(what + " is not a JSON array of {name, datatype, shape}");
  std::vector<TensorInfo> out;
  for (std::size_t i = 0; i < array.size(); ++i) {
    POLARIS_ASSIGN_OR_RETURN(TensorInfo info, parse_one(array[i], what, i));
    for (const auto& seen : out)
      if (seen.name == info.name) return InvalidArgument(what + " names '" + info.name + "' twice");
    out.push_back(std::move(info));
  }
  return out;
}

// Reads a sidecar candidate. "<path>.json" can only belong to this model, so
// anything wrong with it is an error; "<folder>/<stem>.json" may be some
// other file (labels, a manifest), so it counts only when it is an object
// with "inputs" or "outputs".
Result<nlohmann::json> read_sidecar(const fs::path& candidate, bool strict) {
  std::error_code ec;
  if (!fs::is_regular_file(candidate, ec)) return nlohmann::json();
  std::ifstream in(candidate);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json parsed = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  const bool is_spec = in && parsed.is_object() && (parsed.contains("inputs") || parsed.contains("outputs"));
  if (is_spec) return parsed;
  if (strict)
    return InvalidArgument("tensor spec sidecar '" + candidate.string() +
                           "' is not a JSON object {\"inputs\": [...], \"outputs\": [...]}");
  return nlohmann::json();
}

}  // namespace

Result<std::vector<TensorInfo>> parse_tensor_specs(const std::string& json_text, const std::string& what) {
  nlohmann::json parsed = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return InvalidArgument(what + " is not valid JSON");
  return parse_array(parsed, what);
}

Result<ModelSpec> find_model_spec(const std::string& model_path, const std::map<std::string, std::string>& parameters) {
  ModelSpec spec;
  const fs::path path(model_path);
  std::string sidecar_path = model_path + ".json";
  POLARIS_ASSIGN_OR_RETURN(nlohmann::json sidecar, read_sidecar(sidecar_path, /*strict=*/true));
  if (sidecar.is_null()) {
    sidecar_path = (path.parent_path() / (path.stem().string() + ".json")).string();
    POLARIS_ASSIGN_OR_RETURN(sidecar, read_sidecar(sidecar_path, /*strict=*/false));
  }
  std::vector<std::string> sources;
  for (const char* side : {"inputs", "outputs"}) {
    auto& target = std::string(side) == "inputs" ? spec.inputs : spec.outputs;
    if (auto it = parameters.find(side); it != parameters.end()) {
      POLARIS_ASSIGN_OR_RETURN(target, parse_tensor_specs(it->second, std::string("parameter '") + side + "'"));
      sources.push_back(std::string("parameter '") + side + "'");
    } else if (sidecar.is_object() && sidecar.contains(side)) {
      POLARIS_ASSIGN_OR_RETURN(target, parse_array(sidecar[side], "'" + std::string(side) + "' of " + sidecar_path));
      sources.push_back(sidecar_path);
    }
  }
  for (const auto& s : sources)  // both sides from one sidecar name it once
    if (spec.source.find(s) == std::string::npos) spec.source += (spec.source.empty() ? "" : ", ") + s;
  return spec;
}

std::string positional_output_name(std::size_t index, const std::vector<TensorInfo>& declared_outputs) {
  if (index < declared_outputs.size()) return declared_outputs[index].name;
  return "output__" + std::to_string(index);
}

uint64_t predict_memory(uint64_t file_size_bytes) {
  return static_cast<uint64_t>(static_cast<double>(file_size_bytes) * kPredictedMemoryFactor) +
         kPredictedMemoryConstant;
}

std::string engine_message_line(const std::string& what) {
  std::vector<std::string> lines;
  std::istringstream in(what);
  for (std::string line; std::getline(in, line);) {
    const auto begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos) continue;
    lines.push_back(line.substr(begin, line.find_last_not_of(" \t\r") - begin + 1));
  }
  if (lines.empty()) return "unknown error";
  const bool interpreter = what.find("TorchScript interpreter") != std::string::npos ||
                           what.find("Traceback of TorchScript") != std::string::npos;
  return interpreter ? lines.back() : lines.front();
}

}  // namespace polaris::torch_backend
