// Model configuration: reading, checking and completing a Triton-style
// config.pbtxt (issue 6, the first piece of the model repository).
//
// A model's config.pbtxt is protobuf text format over Polaris's own
// inference.ModelConfig (proto/model_config.proto, Triton's numbers), so a
// Triton repository loads unchanged. Unknown field names are errors, never
// silently dropped: a typo in a config must not change behaviour unnoticed.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/model_metadata.h"
#include "core/status.h"
#include "proto/model_config.pb.h"

namespace polaris {

// When a config leaves max_batch_size at 0 and every tensor of the model has
// a dynamic first dim, completion turns batching on with this limit. A
// Polaris choice (Triton's auto-complete picks its own default): small
// enough that a CPU model's batch stays cheap, large enough to help.
inline constexpr int kDefaultMaxBatchSize = 8;

// The largest config.pbtxt read_model_config accepts. Real configs are a
// few KiB; this bounds what a hostile or mistaken repository can make us
// parse.
inline constexpr std::size_t kMaxModelConfigBytes = 1 << 20;

// Parses text format. Errors are InvalidArgument
// "<source_name>:LINE:COL: <parser message>" (1-based, as editors count).
Result<inference::ModelConfig> parse_model_config(std::string_view text, std::string_view source_name);

// Parses protobuf-JSON (Triton's load parameter "config": field names as in
// the .proto or lowerCamelCase, enums by name, 64-bit integers as numbers or
// strings). Unknown fields are errors here too. Errors are InvalidArgument
// "<source_name>: <protobuf's message>"; more than kMaxModelConfigBytes is
// refused unparsed.
Result<inference::ModelConfig> parse_model_config_json(std::string_view json, std::string_view source_name);

// Reads and parses a file: NotFound when missing, InvalidArgument when
// larger than kMaxModelConfigBytes or malformed.
Result<inference::ModelConfig> read_model_config(const std::string& path);

// Checks a config against what the loaded model reports: every configured
// input/output exists, with the same dtype and compatible dims (config dims
// leave out the batch dim when max_batch_size > 0; -1 matches any size), and
// batching needs a dynamic first dim on every model input.
Status validate_model_config(const inference::ModelConfig& config, const ModelMetadata& metadata);

// Fills what a config may omit from the model itself: name, platform,
// inputs/outputs (when the config lists none), and max_batch_size (see
// kDefaultMaxBatchSize). Fields the config sets are kept.
inference::ModelConfig complete_model_config(inference::ModelConfig config, const ModelMetadata& metadata);

// JSON for the model-config endpoint: proto field names, enum names
// ("TYPE_FP32"), primitive fields printed at their defaults too (as
// Triton's server prints them), and 64-bit integers as JSON numbers
// (protobuf's JSON writes them as strings; KServe wants numbers).
std::string model_config_to_json(const inference::ModelConfig& config);

// Mapping between Polaris's DataType and the config enum.
inference::DataType to_config_data_type(DataType type);
DataType from_config_data_type(inference::DataType type);

}  // namespace polaris
