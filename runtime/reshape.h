// Triton's `reshape` in config.pbtxt, for inputs and outputs: the shape a
// client sends and receives (`dims`) differs from the engine's
// (`reshape.shape`), e.g. an ONNX input [1,3,224,224] served with dims
// [3,224,224]. It is applied at the model's edge, by wrapping the engine's
// Model, so the schedulers, batching, warm-up and metadata all see the
// client's shape. With batching (max_batch_size > 0) the batch dim stays
// in front of both shapes: a batch [B,3,224,224] runs as [B,1,3,224,224]
// for reshape [1,3,224,224]. A variable dim (-1) of the target is worked
// out from the element count; a target may have at most one.
// Thread-safety: the wrapper is as thread-safe as the model it wraps.
#pragma once

#include <memory>

#include "backends/backend.h"
#include "core/status.h"
#include "proto/model_config.pb.h"

namespace polaris {

// The dims the engine sees for a config tensor, batch dim excluded:
// reshape.shape when the tensor has a reshape, else its dims.
template <typename ConfigTensor>
const google::protobuf::RepeatedField<int64_t>& engine_dims(const ConfigTensor& tensor) {
  return tensor.has_reshape() ? tensor.reshape().shape() : tensor.dims();
}

// Every reshape of `config` can be applied: at most one variable dim in
// either shape, and the same element count where both are fixed.
Status check_reshapes(const inference::ModelConfig& config);

// `model` wrapped to apply the config's reshapes (its metadata then shows
// the config's dims), or `model` itself when the config has none.
std::unique_ptr<Model> apply_reshapes(std::unique_ptr<Model> model, const inference::ModelConfig& config);

}  // namespace polaris
