// The KServe v2 HTTP infer body, both ways: JSON, the binary tensor data
// extension (a JSON header followed by raw tensor bytes), and the raw body
// (`Inference-Header-Content-Length: 0`).
//
// Nothing is allocated from a size on the wire before it is checked against
// the body that carries it: JSON data must hold exactly the elements its
// shape says, binary regions must lie inside the body and match dtype x
// shape. Binary inputs are views into the body (kept alive by the tensors)
// unless misaligned for their type, then copied.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "proto/model_config.pb.h"
#include "server/infer_types.h"

namespace polaris {

// A JSON body (json_length empty, or the whole body) or the binary
// extension (json_length = Inference-Header-Content-Length > 0). Inputs and
// outputs may name system shared memory windows (shared_memory_io.h) when
// `shared_memory` is given; without it such a request is refused.
Result<InferRequest> decode_infer_request(std::shared_ptr<const std::string> body,
                                          std::optional<std::size_t> json_length,
                                          const SharedMemoryRegistry* shared_memory = nullptr);

// Inference-Header-Content-Length: 0: the body is the raw bytes of the
// model's single input, batch 1 when the model batches; every output is
// answered binary. InvalidArgument for models with more than one input or
// with variable dims the body cannot fix.
Result<InferRequest> decode_raw_infer_request(std::shared_ptr<const std::string> body,
                                              const inference::ModelConfig& config);

struct EncodedInferResponse {
  std::string body;
  // Set when binary outputs follow the JSON: the response's
  // Inference-Header-Content-Length.
  std::optional<std::size_t> json_length;
};

// FP16 and BF16 outputs always go binary: JSON cannot carry them. Outputs
// written to shared memory carry their name, datatype and shape only.
EncodedInferResponse encode_infer_response(const InferResponse& response);

}  // namespace polaris
