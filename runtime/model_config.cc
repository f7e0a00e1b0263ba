#include "runtime/model_config.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "core/utf8.h"
#include "runtime/reshape.h"

namespace polaris {
namespace {

// Keeps the parser's first error: later ones are usually fallout of it.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (has_error_) return;
    has_error_ = true;
    // The parser counts from 0; editors and users count from 1.
    line_ = line + 1;
    column_ = column + 1;
    message_ = message;
  }
  bool has_error() const { return has_error_; }
  std::string describe(std::string_view source) const {
    std::ostringstream out;
    out << source << ':' << line_ << ':' << column_ << ": " << message_;
    return out.str();
  }

 private:
  bool has_error_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

// The path of the first string field of `message` that is not UTF-8
// ("input[0].name"), or nothing. Text format takes any bytes ("\377"),
// but proto3 strings must be UTF-8: protobuf's JSON and binary writers drop
// or refuse the rest, so the model-config endpoint would report names that
// are not the model's (found by fuzz_model_config).
std::optional<std::string> first_non_utf8_field(const google::protobuf::Message& message) {
  const auto* reflection = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const auto* field : fields) {
    using Field = google::protobuf::FieldDescriptor;
    const int count = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      const std::string where = field->is_repeated() ? fmt::format("{}[{}]", field->name(), i) : field->name();
      if (field->type() == Field::TYPE_STRING) {
        const std::string value =
            field->is_repeated() ? reflection->GetRepeatedString(message, field, i) : reflection->GetString(message, field);
        if (!is_valid_utf8(value)) return where;
      } else if (field->cpp_type() == Field::CPPTYPE_MESSAGE) {
        const auto& inner = field->is_repeated() ? reflection->GetRepeatedMessage(message, field, i)
                                                 : reflection->GetMessage(message, field);
        if (auto path = first_non_utf8_field(inner)) return where + "." + *path;
      }
    }
  }
  return std::nullopt;
}

std::string shape_string(const google::protobuf::RepeatedField<int64_t>& dims) {
  return Shape(std::vector<int64_t>(dims.begin(), dims.end())).to_string();
}

std::string tensor_names(const std::vector<TensorInfo>& tensors) {
  std::string names;
  for (const auto& t : tensors) names += (names.empty() ? "" : ", ") + t.name;
  return names.empty() ? "none" : names;
}

// A model dim and a config dim agree when equal or when either is -1.
bool dims_compatible(const Shape& model, const std::vector<int64_t>& config) {
  if (model.rank() != config.size()) return false;
  for (std::size_t i = 0; i < config.size(); ++i) {
    if (model[i] != config[i] && model[i] != Shape::kDynamic && config[i] != Shape::kDynamic) return false;
  }
  return true;
}

// One configured tensor against the model's. `kind` is "input"/"output".
// A dtype the model does not report (kInvalid: TorchScript before its first
// run) means dtype and shape are unknown, so only the name is checked; the
// config is then the source of truth, as in Triton's pytorch backend.
Status check_tensor(std::string_view kind, const std::string& name, inference::DataType config_type,
                    const google::protobuf::RepeatedField<int64_t>& config_dims, int max_batch_size,
                    const TensorInfo* model, const std::vector<TensorInfo>& model_tensors) {
  if (model == nullptr) {
    return InvalidArgument("model config " + std::string(kind) + " '" + name + "' is not an " + std::string(kind) +
                           " of the model (model " + std::string(kind) + "s: " + tensor_names(model_tensors) + ")");
  }
  if (model->dtype == DataType::kInvalid) return Status::Ok();
  if (config_type != to_config_data_type(model->dtype)) {
    return InvalidArgument("model config " + std::string(kind) + " '" + name + "' has data_type " +
                           inference::DataType_Name(config_type) + " but the model's is " +
                           std::string(to_config_string(model->dtype)));
  }
  // With batching on, config dims leave out the leading batch dim. (Dims
  // here are the engine's: a reshape's shape where the tensor has one.)
  std::vector<int64_t> expected;
  if (max_batch_size > 0) expected.push_back(Shape::kDynamic);
  expected.insert(expected.end(), config_dims.begin(), config_dims.end());
  if (!dims_compatible(model->shape, expected)) {
    return InvalidArgument("model config " + std::string(kind) + " '" + name + "' has dims " +
                           shape_string(config_dims) + (max_batch_size > 0 ? " (plus the batch dim)" : "") +
                           " but the model's shape is " + model->shape.to_string());
  }
  return Status::Ok();
}

bool first_dim_dynamic(const TensorInfo& t) {
  return t.dtype != DataType::kInvalid && t.shape.rank() >= 1 && t.shape[0] == Shape::kDynamic;
}

template <typename ConfigTensor>
void fill_tensor(ConfigTensor* out, const TensorInfo& t, bool strip_batch) {
  out->set_name(t.name);
  out->set_data_type(to_config_data_type(t.dtype));
  const auto& dims = t.shape.dims();
  for (std::size_t i = strip_batch ? 1 : 0; i < dims.size(); ++i) out->add_dims(dims[i]);
}

// Fields of 64-bit integer type in model_config.proto, which protobuf's
// JSON writer quotes (JSON numbers lose precision past 2^53 in JavaScript).
// KServe's model-config JSON uses numbers; Polaris's values are far below
// 2^53. Keep this list in step with the .proto.
const std::set<std::string, std::less<>> kInt64Fields = {
    "dims", "shape", "versions", "max_queue_delay_microseconds", "priority_levels",
    "default_priority_level", "default_timeout_microseconds"};

// Replaces a string holding a whole decimal integer by that number.
void unquote_integer(nlohmann::ordered_json& value) {
  if (!value.is_string()) return;
  const auto& s = value.get_ref<const std::string&>();
  const char* end = s.data() + s.size();
  if (!s.empty() && s[0] == '-') {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), end, n);
    if (ec == std::errc() && p == end) value = n;
  } else {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), end, n);
    if (ec == std::errc() && p == end) value = n;
  }
}

void unquote_int64_fields(nlohmann::ordered_json& node) {
  if (node.is_array()) {
    for (auto& item : node) unquote_int64_fields(item);
    return;
  }
  if (!node.is_object()) return;
  for (auto& [key, value] : node.items()) {
    if (kInt64Fields.count(key) != 0) {
      if (value.is_array()) {
        for (auto& item : value) unquote_integer(item);
      } else {
        unquote_integer(value);
      }
    } else {
      unquote_int64_fields(value);
    }
  }
}

}  // namespace

inference::DataType to_config_data_type(DataType type) {
  inference::DataType out = inference::TYPE_INVALID;
  // Both enums spell Triton's names ("TYPE_FP32"); going through the name
  // keeps one table (core/data_type.cc) instead of two.
  if (!inference::DataType_Parse(std::string(to_config_string(type)), &out)) return inference::TYPE_INVALID;
  return out;
}

DataType from_config_data_type(inference::DataType type) {
  return data_type_from_config_string(inference::DataType_Name(type)).value_or(DataType::kInvalid);
}

Result<inference::ModelConfig> parse_model_config(std::string_view text, std::string_view source_name) {
  inference::ModelConfig config;
  FirstErrorCollector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  // The parser rejects unknown field names by default; keep it that way so
  // typos and unsupported Triton settings are reported, not ignored.
  if (!parser.ParseFromString(std::string(text), &config)) {
    if (errors.has_error()) return InvalidArgument(errors.describe(source_name));
    return InvalidArgument(std::string(source_name) + ": could not be parsed as a model config");
  }
  if (auto field = first_non_utf8_field(config))
    return InvalidArgument(fmt::format("{}: {} is not valid UTF-8", source_name, *field));
  return config;
}

Result<inference::ModelConfig> parse_model_config_json(std::string_view json, std::string_view source_name) {
  if (json.size() > kMaxModelConfigBytes)
    return InvalidArgument(std::string(source_name) + " is " + std::to_string(json.size()) + " bytes, more than the " +
                           std::to_string(kMaxModelConfigBytes) + " allowed");
  inference::ModelConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // as in config.pbtxt: a typo is an error, not a silent default
  const auto status =
      google::protobuf::util::JsonStringToMessage(google::protobuf::StringPiece(json.data(), json.size()), &config,
                                                  options);
  if (!status.ok()) return InvalidArgument(std::string(source_name) + ": " + std::string(status.message()));
  return config;
}

Result<inference::ModelConfig> read_model_config(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound("model config '" + path + "' cannot be read: " + ec.message());
  if (size > kMaxModelConfigBytes) {
    return InvalidArgument("model config '" + path + "' is " + std::to_string(size) + " bytes, more than the " +
                           std::to_string(kMaxModelConfigBytes) + " allowed");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("model config '" + path + "' cannot be opened");
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_model_config(text, path);
}

Status validate_model_config(const inference::ModelConfig& config, const ModelMetadata& metadata) {
  const int mbs = config.max_batch_size();
  if (mbs < 0) return InvalidArgument("model config max_batch_size must be >= 0, not " + std::to_string(mbs));
  // A tensor with a reshape is checked with the engine's dims, its reshape.
  POLARIS_RETURN_IF_ERROR(check_reshapes(config));
  for (const auto& in : config.input()) {
    POLARIS_RETURN_IF_ERROR(check_tensor("input", in.name(), in.data_type(), engine_dims(in), mbs,
                                         metadata.find_input(in.name()), metadata.inputs));
  }
  for (const auto& out : config.output()) {
    POLARIS_RETURN_IF_ERROR(check_tensor("output", out.name(), out.data_type(), engine_dims(out), mbs,
                                         metadata.find_output(out.name()), metadata.outputs));
  }
  if (mbs > 0) {
    // Polaris batches by stacking requests along dim 0, so the model must
    // accept any size there. Tensors of unknown shape are given the benefit
    // of the doubt (the engine reports a bad batch at run time).
    for (const auto& t : metadata.inputs) {
      if (t.dtype == DataType::kInvalid) continue;
      if (!first_dim_dynamic(t)) {
        return InvalidArgument("model config max_batch_size is " + std::to_string(mbs) + " but model input '" +
                               t.name + "' has shape " + t.shape.to_string() +
                               ", whose first (batch) dim is not dynamic (-1)");
      }
    }
  }
  return Status::Ok();
}

inference::ModelConfig complete_model_config(inference::ModelConfig config, const ModelMetadata& metadata) {
  if (config.name().empty()) config.set_name(metadata.name);
  if (config.platform().empty() && config.backend().empty()) {
    if (metadata.framework == "onnx") config.set_platform("onnxruntime_onnx");
    if (metadata.framework == "torchscript") config.set_platform("pytorch_libtorch");
  }
  // Default batching only when the model supplies every tensor: dims a user
  // wrote were written for the max_batch_size they set (0 = no batch dim),
  // and turning batching on under them would change their meaning.
  // Sequence models' state and control tensors are the scheduler's, not the
  // client's: they are left out of the inputs and outputs clients see.
  std::set<std::string> internal;
  for (const auto& state : config.sequence_batching().state()) {
    internal.insert(state.input_name());
    internal.insert(state.output_name());
  }
  for (const auto& control : config.sequence_batching().control_input()) internal.insert(control.name());
  auto visible = [&](const std::vector<TensorInfo>& ts) {
    std::vector<TensorInfo> out;
    for (const auto& t : ts)
      if (!internal.contains(t.name)) out.push_back(t);
    return out;
  };
  const std::vector<TensorInfo> inputs = visible(metadata.inputs), outputs = visible(metadata.outputs);
  if (config.max_batch_size() == 0 && config.input_size() == 0 && config.output_size() == 0 &&
      !config.has_sequence_batching() && !metadata.inputs.empty()) {
    bool batchable = true;
    for (const auto& t : metadata.inputs) batchable = batchable && first_dim_dynamic(t);
    for (const auto& t : metadata.outputs) batchable = batchable && first_dim_dynamic(t);
    if (batchable) config.set_max_batch_size(kDefaultMaxBatchSize);
  }
  const bool strip = config.max_batch_size() > 0;
  // Tensors whose dtype the model does not report are not guessed: a
  // config with TYPE_INVALID would be worse than none.
  auto all_known = [](const std::vector<TensorInfo>& ts) {
    for (const auto& t : ts) {
      if (t.dtype == DataType::kInvalid) return false;
    }
    return true;
  };
  if (config.input_size() == 0 && all_known(inputs)) {
    for (const auto& t : inputs) fill_tensor(config.add_input(), t, strip && t.shape.rank() > 0);
  }
  if (config.output_size() == 0 && all_known(outputs)) {
    for (const auto& t : outputs) fill_tensor(config.add_output(), t, strip && t.shape.rank() > 0);
  }
  return config;
}

std::string model_config_to_json(const inference::ModelConfig& config) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  // As Triton prints it: primitive fields at their default too
  // (max_batch_size: 0, enums at value 0 such as CONTROL_SEQUENCE_START),
  // which Triton's clients read (image_client.py reads max_batch_size).
  options.always_print_primitive_fields = true;
  std::string text;
  // Serialising a valid message cannot fail; an empty object is the safe
  // answer if it ever does.
  if (!google::protobuf::util::MessageToJsonString(config, &text, options).ok()) return "{}";
  // ordered_json keeps protobuf's field-number order instead of sorting keys.
  auto json = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return "{}";
  unquote_int64_fields(json);
  return json.dump();
}

}  // namespace polaris
