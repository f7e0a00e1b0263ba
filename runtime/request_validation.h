// What a request must satisfy before it reaches a model's scheduler: the
// model's rules, checked once for every frontend (HTTP, gRPC, the C++ and
// Python APIs), against the model's completed config.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "proto/model_config.pb.h"

namespace polaris {

// InvalidArgument, naming the input or output, unless: no input is given
// twice; every input is one of the config's, with its datatype and shape
// (the batch dim first, 1 to max_batch_size, when the model batches); every
// input of a batching model has the same batch dim (Triton's "batch size
// does not match other inputs"); every input that is not optional is given;
// and every requested output is one of the config's. A config without
// inputs (or outputs) checks only what it declares.
Status validate_request(std::string_view model, const NamedTensors& inputs,
                        const std::vector<std::string>& requested_outputs, const inference::ModelConfig& config);

}  // namespace polaris
