// The KServe v2 gRPC infer messages, both ways: ModelInferRequest into an
// InferRequest, an InferResponse into ModelInferResponse.
//
// Inputs come from raw_input_contents (one entry per input, all or none) or
// from the typed InferTensorContents fields. Every size is checked against
// the element count of the input's shape (overflow-checked by Shape) before
// any tensor is built, so nothing is allocated from an unchecked number.
// Raw inputs are views into the request message unless misaligned for their
// type, then copied; typed contents are always copied (narrowed for the
// 8- and 16-bit types the protocol carries widened).
// Thread-safety: pure functions.
#pragma once

#include <memory>

#include "core/status.h"
#include "proto/grpc_service.pb.h"
#include "server/infer_types.h"

namespace polaris {

// `keepalive` must own `message` or something that outlives it: the raw
// input tensors point into the message and hold `keepalive` for as long as
// they live. Null is allowed when the caller guarantees the message outlives
// every tensor of the returned request. Inputs and outputs may name system
// shared memory windows (shared_memory_io.h) when `shared_memory` is given;
// such inputs have no raw_input_contents entry (as in Triton).
Result<InferRequest> decode_grpc_infer_request(const inference::ModelInferRequest& message,
                                               std::shared_ptr<const void> keepalive,
                                               const SharedMemoryRegistry* shared_memory = nullptr);

// Outputs as raw_output_contents, one entry per output in output order
// (tritonclient's as_numpy reads raw contents); an output written to shared
// memory gets an empty entry (as in Triton). `response` is
// cleared first.
void encode_grpc_infer_response(const InferResponse& result, inference::ModelInferResponse& response);

}  // namespace polaris
