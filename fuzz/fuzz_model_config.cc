// fuzz_model_config: model configs as a repository (config.pbtxt, text
// format: parse_model_config) or a load request (Triton's "config" load
// parameter, protobuf-JSON: parse_model_config_json) hands them to the
// server, both parsers on every input (runtime/model_config.h). A config
// that parses then goes through what needs no model file:
// model_config_to_json and back, validate_model_config and
// complete_model_config against three models' metadata (Triton's `simple`
// as ONNX reports it, a TorchScript model that reports no types, and the
// config's own tensors), and the config's readers: scheduling_policy_from_config,
// model_policy and plan_instances.
//
// Checks, beyond "no crash, no ASan/UBSan report, no leak": the JSON the
// model-config endpoint writes parses back into the same config (NaNs
// compared equal), for the config as given and as completed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>

#include "fuzz/fuzz_common.h"
#include "runtime/model_loader.h"
#include "runtime/model_policy.h"
#include "runtime/scheduling_policy.h"

namespace polaris::fuzz {
namespace {

ModelMetadata simple_metadata() {
  ModelMetadata m;
  m.name = "simple";
  m.framework = "onnx";
  for (const char* name : {"INPUT0", "INPUT1"})
    m.inputs.push_back({name, DataType::kInt32, Shape{-1, 16}, {"batch", ""}});
  for (const char* name : {"OUTPUT0", "OUTPUT1"}) m.outputs.push_back({name, DataType::kInt32, Shape{-1, 16}, {}});
  return m;
}

// TorchScript reports names but no dtypes or shapes before a first run.
ModelMetadata torch_metadata() {
  ModelMetadata m;
  m.name = "digits";
  m.framework = "torchscript";
  m.inputs.push_back({"x", DataType::kInvalid, Shape{}, {}});
  m.outputs.push_back({"output__0", DataType::kInvalid, Shape{}, {}});
  return m;
}

// A model that is what the config says it is (batch dim added).
ModelMetadata metadata_of(const inference::ModelConfig& config) {
  ModelMetadata m;
  m.name = config.name();
  m.framework = "onnx";
  auto shape = [&](const auto& dims) {
    std::vector<int64_t> d;
    if (config.max_batch_size() > 0) d.push_back(-1);
    d.insert(d.end(), dims.begin(), dims.end());
    return Shape(std::move(d));
  };
  for (const auto& in : config.input())
    m.inputs.push_back({in.name(), from_config_data_type(in.data_type()), shape(in.dims()), {}});
  for (const auto& out : config.output())
    m.outputs.push_back({out.name(), from_config_data_type(out.data_type()), shape(out.dims()), {}});
  return m;
}

// parse_model_config refuses string fields that are not UTF-8 (it took
// them, found here, and the JSON writer then dropped the bytes): what it
// accepts survives protobuf's binary round trip, which checks UTF-8.
bool has_invalid_utf8(const inference::ModelConfig& config) {
  inference::ModelConfig copy;
  return !copy.ParseFromString(config.SerializeAsString());
}

void check_json_round_trip(const inference::ModelConfig& config) {
  POLARIS_FUZZ_CHECK(!has_invalid_utf8(config), "an accepted config has a string that is not UTF-8");
  const std::string json = model_config_to_json(config);
  auto back = parse_model_config_json(json, "model_config_to_json");
  POLARIS_FUZZ_CHECK(back.ok(), "the config's JSON does not parse back: %s\nJSON: %s\nconfig: %s",
                     back.status().to_string().c_str(), json.c_str(), config.ShortDebugString().c_str());
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  std::string difference;
  differencer.ReportDifferencesToString(&difference);
  // Text format keeps every entry of a map key given twice (the last one
  // wins when the map is read, as in Triton); the binary round trip leaves
  // the map as readers see it, which is what the JSON must carry.
  inference::ModelConfig as_read;
  const inference::ModelConfig& expected = as_read.ParseFromString(config.SerializeAsString()) ? as_read : config;
  POLARIS_FUZZ_CHECK(differencer.Compare(expected, *back), "the config's JSON parses back different: %s\nJSON: %s",
                     difference.c_str(), json.c_str());
}

void exercise(const inference::ModelConfig& config) {
  check_json_round_trip(config);
  for (const ModelMetadata& metadata : {simple_metadata(), torch_metadata(), metadata_of(config)}) {
    (void)validate_model_config(config, metadata);
    const inference::ModelConfig completed = complete_model_config(config, metadata);
    check_json_round_trip(completed);
    (void)scheduling_policy_from_config(completed);
  }
  (void)model_policy(config, ModelPolicy{});
  (void)plan_instances(config, [] { return 2; });
}

}  // namespace
}  // namespace polaris::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // protobuf logs an ERROR for each string that is not UTF-8 it serialises;
  // at thousands of inputs a second that is only noise.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace polaris;
  // read_model_config refuses larger files unread; the JSON parser checks itself.
  if (size > kMaxModelConfigBytes) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto config = parse_model_config(text, "config.pbtxt"); config.ok()) fuzz::exercise(*config);
  if (auto config = parse_model_config_json(text, "config"); config.ok()) fuzz::exercise(*config);
  return 0;
}
