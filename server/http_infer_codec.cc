#include "server/http_infer_codec.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/model_config.h"
#include "server/wire_tensor.h"

namespace polaris {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------- decoding

Result<ParameterValue> parameter_from_json(const std::string& key, const json& v) {
  if (v.is_boolean()) return ParameterValue(v.get<bool>());
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return ParameterValue(static_cast<int64_t>(u));
    return ParameterValue(u);
  }
  if (v.is_number_integer()) return ParameterValue(v.get<int64_t>());
  if (v.is_number_float()) return ParameterValue(v.get<double>());
  if (v.is_string()) return ParameterValue(v.get<std::string>());
  return InvalidArgument("parameter '" + key + "' must be a bool, number or string");
}

// A member of a JSON object by reference, null when absent (json::value
// returns a copy: the whole "inputs" array of every request, allocation by
// allocation).
const json& member(const json& object, const char* key) {
  static const json kNull;
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

Result<Parameters> parameters_from_json(const json& object, const std::string& where) {
  Parameters out;
  if (object.is_null()) return out;
  if (!object.is_object()) return InvalidArgument(where + " 'parameters' must be an object");
  for (const auto& [key, value] : object.items()) {
    POLARIS_ASSIGN_OR_RETURN(ParameterValue p, parameter_from_json(key, value));
    out.emplace(key, std::move(p));
  }
  return out;
}

std::optional<int64_t> int_parameter(const Parameters& p, const std::string& key) {
  auto it = p.find(key);
  if (it == p.end()) return std::nullopt;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&it->second)) return static_cast<int64_t>(*u);
  return std::nullopt;
}

bool bool_parameter(const Parameters& p, const std::string& key) {
  auto it = p.find(key);
  if (it == p.end()) return false;
  if (const auto* b = std::get_if<bool>(&it->second)) return *b;
  return false;
}

// Row-major flattening of nested JSON arrays; the count is bounded by the
// body, so this never allocates from a number on the wire. Nesting deeper
// than `depth_left` fails: data nests at most as deep as its shape, and an
// unbounded recursion on "[[[[...]]]]" would overflow the stack.
bool flatten(const json& v, std::vector<const json*>& out, std::size_t depth_left) {
  if (!v.is_array()) {
    out.push_back(&v);
    return true;
  }
  if (depth_left == 0) return false;
  for (const auto& e : v)
    if (!flatten(e, out, depth_left - 1)) return false;
  return true;
}

template <typename T>
Status fill_numbers(const std::vector<const json*>& values, T* data, const std::string& input) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    const json& v = *values[i];
    if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) return InvalidArgument(fmt::format("input '{}': element {} is not a number", input, i));
      data[i] = static_cast<T>(v.get<double>());
    } else {
      bool in_range = false;
      if (v.is_number_unsigned()) {
        const auto u = v.get<uint64_t>();
        in_range = u <= static_cast<uint64_t>(std::numeric_limits<T>::max());
        if (in_range) data[i] = static_cast<T>(u);
      } else if (v.is_number_integer()) {
        const auto s = v.get<int64_t>();
        in_range = std::is_signed_v<T> ? (s >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                          s <= static_cast<int64_t>(std::numeric_limits<T>::max()))
                                       : s >= 0 && static_cast<uint64_t>(s) <= std::numeric_limits<T>::max();
        if (in_range) data[i] = static_cast<T>(s);
      } else {
        return InvalidArgument(fmt::format("input '{}': element {} is not an integer", input, i));
      }
      if (!in_range)
        return InvalidArgument(fmt::format("input '{}': element {} is out of range for its datatype", input, i));
    }
  }
  return Status::Ok();
}

Result<Tensor> tensor_from_json_data(DataType dtype, const Shape& shape, const json& data, const std::string& input) {
  if (dtype == DataType::kFp16 || dtype == DataType::kBf16)
    return InvalidArgument(fmt::format("input '{}': {} data must be sent binary (the binary tensor extension)", input,
                                       to_string(dtype)));
  std::vector<const json*> values;
  if (!flatten(data, values, std::max<std::size_t>(shape.rank(), 1)))
    return InvalidArgument(fmt::format("input '{}': 'data' is nested deeper than its shape {}", input,
                                       shape.to_string()));
  POLARIS_ASSIGN_OR_RETURN(int64_t count, shape.element_count());
  if (static_cast<int64_t>(values.size()) != count)
    return InvalidArgument(fmt::format("input '{}' has {} data elements but its shape {} needs {}", input,
                                       values.size(), shape.to_string(), count));
  if (dtype == DataType::kBytes) {
    std::vector<std::string> strings;
    strings.reserve(values.size());
    for (const json* v : values) {
      if (!v->is_string()) return InvalidArgument("input '" + input + "': BYTES data must be strings");
      strings.push_back(v->get<std::string>());
    }
    return Tensor::from_strings(shape, strings);
  }
  POLARIS_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, shape));
  void* p = t.mutable_data();
  Status filled;
  switch (dtype) {
    case DataType::kBool:
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (!values[i]->is_boolean())
          return InvalidArgument(fmt::format("input '{}': element {} is not true or false", input, i));
        static_cast<uint8_t*>(p)[i] = values[i]->get<bool>() ? 1 : 0;
      }
      break;
    case DataType::kUint8: filled = fill_numbers(values, static_cast<uint8_t*>(p), input); break;
    case DataType::kUint16: filled = fill_numbers(values, static_cast<uint16_t*>(p), input); break;
    case DataType::kUint32: filled = fill_numbers(values, static_cast<uint32_t*>(p), input); break;
    case DataType::kUint64: filled = fill_numbers(values, static_cast<uint64_t*>(p), input); break;
    case DataType::kInt8: filled = fill_numbers(values, static_cast<int8_t*>(p), input); break;
    case DataType::kInt16: filled = fill_numbers(values, static_cast<int16_t*>(p), input); break;
    case DataType::kInt32: filled = fill_numbers(values, static_cast<int32_t*>(p), input); break;
    case DataType::kInt64: filled = fill_numbers(values, static_cast<int64_t*>(p), input); break;
    case DataType::kFp32: filled = fill_numbers(values, static_cast<float*>(p), input); break;
    case DataType::kFp64: filled = fill_numbers(values, static_cast<double*>(p), input); break;
    default: return InvalidArgument("input '" + input + "': unsupported datatype");
  }
  POLARIS_RETURN_IF_ERROR(filled);
  return t;
}

Result<Shape> shape_from_json(const json& v, const std::string& input) {
  if (!v.is_array()) return InvalidArgument("input '" + input + "' needs a 'shape' array");
  std::vector<int64_t> dims;
  for (const auto& d : v) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      return InvalidArgument("input '" + input + "': shape dims must be non-negative integers");
    dims.push_back(d.get<int64_t>());
  }
  Shape shape(std::move(dims));
  if (Status s = shape.validate_concrete(); !s.ok()) return InvalidArgument("input '" + input + "': " + s.message());
  return shape;
}

Status decode_inputs(const json& inputs, const std::shared_ptr<const std::string>& body, std::size_t binary_start,
                     InferRequest& request) {
  if (!inputs.is_array() || inputs.empty()) return InvalidArgument("the request needs a non-empty 'inputs' array");
  std::size_t offset = binary_start;
  for (const auto& in : inputs) {
    if (!in.is_object() || !in.contains("name") || !in["name"].is_string())
      return InvalidArgument("every input needs a 'name'");
    const std::string name = in["name"].get<std::string>();
    if (!in.contains("datatype") || !in["datatype"].is_string())
      return InvalidArgument("input '" + name + "' needs a 'datatype'");
    const auto dtype = data_type_from_string(in["datatype"].get<std::string>());
    if (!dtype || *dtype == DataType::kInvalid)
      return InvalidArgument("input '" + name + "': unknown datatype '" + in["datatype"].get<std::string>() + "'");
    POLARIS_ASSIGN_OR_RETURN(Shape shape, shape_from_json(member(in, "shape"), name));
    POLARIS_ASSIGN_OR_RETURN(Parameters params, parameters_from_json(member(in, "parameters"), "input"));
    if (auto binary_size = int_parameter(params, "binary_data_size")) {
      if (*binary_size < 0 || static_cast<std::size_t>(*binary_size) > body->size() - offset)
        return InvalidArgument(fmt::format("input '{}': binary_data_size {} runs past the end of the body", name,
                                           *binary_size));
      POLARIS_ASSIGN_OR_RETURN(Tensor t, tensor_from_wire(*dtype, shape, body->data() + offset,
                                                          static_cast<std::size_t>(*binary_size), body, name));
      offset += static_cast<std::size_t>(*binary_size);
      request.inputs.push_back({name, std::move(t)});
    } else {
      if (!in.contains("data")) return InvalidArgument("input '" + name + "' has neither 'data' nor binary_data_size");
      POLARIS_ASSIGN_OR_RETURN(Tensor t, tensor_from_json_data(*dtype, shape, in["data"], name));
      request.inputs.push_back({name, std::move(t)});
    }
  }
  if (offset != body->size())
    return InvalidArgument(fmt::format("the body has {} bytes after the JSON header but the inputs use {}",
                                       body->size() - binary_start, offset - binary_start));
  return Status::Ok();
}

Status decode_outputs(const json& outputs, InferRequest& request) {
  if (outputs.is_null()) return Status::Ok();
  if (!outputs.is_array()) return InvalidArgument("'outputs' must be an array");
  for (const auto& out : outputs) {
    if (!out.is_object() || !out.contains("name") || !out["name"].is_string())
      return InvalidArgument("every requested output needs a 'name'");
    RequestedOutput r;
    r.name = out["name"].get<std::string>();
    POLARIS_ASSIGN_OR_RETURN(Parameters params, parameters_from_json(member(out, "parameters"), "output"));
    r.binary = params.count("binary_data") ? bool_parameter(params, "binary_data") : request.binary_outputs;
    if (auto k = int_parameter(params, "classification")) {
      if (*k < 1) return InvalidArgument("output '" + r.name + "': classification must be at least 1");
      r.classification = static_cast<uint32_t>(std::min<int64_t>(*k, 1 << 20));
    }
    request.outputs.push_back(std::move(r));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- encoding

json tensor_data_json(const Tensor& t) {
  json data = json::array();
  if (t.dtype() == DataType::kBytes) {
    const std::vector<std::string_view> strings = t.strings().value();
    for (std::string_view s : strings) data.push_back(std::string(s));
    return data;
  }
  const std::size_t n = t.byte_size() / std::max<std::size_t>(element_size(t.dtype()), 1);
  auto push = [&](const auto* p) {
    for (std::size_t i = 0; i < n; ++i) data.push_back(p[i]);
  };
  const void* p = t.data();
  switch (t.dtype()) {
    case DataType::kBool:
      for (std::size_t i = 0; i < n; ++i) data.push_back(static_cast<const uint8_t*>(p)[i] != 0);
      break;
    case DataType::kUint8: push(static_cast<const uint8_t*>(p)); break;
    case DataType::kUint16: push(static_cast<const uint16_t*>(p)); break;
    case DataType::kUint32: push(static_cast<const uint32_t*>(p)); break;
    case DataType::kUint64: push(static_cast<const uint64_t*>(p)); break;
    case DataType::kInt8: push(static_cast<const int8_t*>(p)); break;
    case DataType::kInt16: push(static_cast<const int16_t*>(p)); break;
    case DataType::kInt32: push(static_cast<const int32_t*>(p)); break;
    case DataType::kInt64: push(static_cast<const int64_t*>(p)); break;
    case DataType::kFp32: push(static_cast<const float*>(p)); break;
    case DataType::kFp64: push(static_cast<const double*>(p)); break;
    default: break;
  }
  return data;
}

}  // namespace

Result<InferRequest> decode_infer_request(std::shared_ptr<const std::string> body,
                                          std::optional<std::size_t> json_length) {
  const std::size_t header_size = json_length.value_or(body->size());
  if (header_size > body->size())
    return InvalidArgument(fmt::format("Inference-Header-Content-Length {} is larger than the body ({} bytes)",
                                       header_size, body->size()));
  json header;
  try {
    header = json::parse(body->data(), body->data() + header_size);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("the request is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) return InvalidArgument("the request must be a JSON object");
  InferRequest request;
  try {
    if (header.contains("id")) {
      if (!header["id"].is_string()) return InvalidArgument("'id' must be a string");
      request.id = header["id"].get<std::string>();
    }
    POLARIS_ASSIGN_OR_RETURN(request.parameters, parameters_from_json(member(header, "parameters"), "request"));
    request.binary_outputs = bool_parameter(request.parameters, "binary_data_output");
    POLARIS_RETURN_IF_ERROR(decode_inputs(member(header, "inputs"), body, header_size, request));
    POLARIS_RETURN_IF_ERROR(decode_outputs(member(header, "outputs"), request));
  } catch (const json::exception& e) {  // a value of the wrong JSON type somewhere
    return InvalidArgument(std::string("malformed request: ") + e.what());
  }
  return request;
}

Result<InferRequest> decode_raw_infer_request(std::shared_ptr<const std::string> body,
                                              const inference::ModelConfig& config) {
  if (config.input_size() != 1)
    return InvalidArgument(fmt::format("a raw body (Inference-Header-Content-Length: 0) needs a model with one "
                                       "input; '{}' has {}",
                                       config.name(), config.input_size()));
  const auto& input = config.input(0);
  const DataType dtype = from_config_data_type(input.data_type());
  std::vector<int64_t> dims;
  if (config.max_batch_size() > 0) dims.push_back(1);
  for (int64_t d : input.dims()) {
    if (d < 0)
      return InvalidArgument("a raw body cannot carry input '" + input.name() + "': it has variable dims");
    dims.push_back(d);
  }
  InferRequest request;
  request.binary_outputs = true;
  POLARIS_ASSIGN_OR_RETURN(Tensor t, tensor_from_wire(dtype, Shape(std::move(dims)), body->data(), body->size(),
                                                      body, input.name()));
  request.inputs.push_back({input.name(), std::move(t)});
  return request;
}

EncodedInferResponse encode_infer_response(const InferResponse& response) {
  json header{{"model_name", response.model_name}, {"model_version", response.model_version}};
  if (!response.id.empty()) header["id"] = response.id;
  json outputs = json::array();
  std::vector<const Tensor*> binary;
  for (const InferOutput& out : response.outputs) {
    json o{{"name", out.name},
           {"datatype", std::string(to_string(out.tensor.dtype()))},
           {"shape", out.tensor.shape().dims()}};
    const bool must_be_binary = out.tensor.dtype() == DataType::kFp16 || out.tensor.dtype() == DataType::kBf16;
    if (out.binary || must_be_binary) {
      o["parameters"] = {{"binary_data_size", out.tensor.byte_size()}};
      binary.push_back(&out.tensor);
    } else {
      o["data"] = tensor_data_json(out.tensor);
    }
    outputs.push_back(std::move(o));
  }
  header["outputs"] = std::move(outputs);
  EncodedInferResponse encoded;
  // BYTES may hold invalid UTF-8: replace it rather than fail the response.
  encoded.body = header.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!binary.empty()) {
    encoded.json_length = encoded.body.size();
    std::size_t total = encoded.body.size();
    for (const Tensor* t : binary) total += t->byte_size();
    encoded.body.reserve(total);
    for (const Tensor* t : binary) encoded.body.append(static_cast<const char*>(t->data()), t->byte_size());
  }
  return encoded;
}

}  // namespace polaris
