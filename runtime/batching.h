// Stacking requests into one engine batch and cutting the outputs back into
// each request's share: the data side of dynamic batching, with no policy.
//
// Requests share a batch only when every input has the same name, dtype
// and dims after the first (batch) dim, and they ask for the same outputs;
// their first dims are added up. BYTES inputs stack too: the KServe layout
// (uint32 length + bytes per element) concatenates element-wise.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace polaris {

// What must be equal for two requests to share a batch; compare with ==.
std::string batch_key(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs);

// Rows of a batched request: the first (batch) dim that every input shares;
// 1 for a request without inputs. InvalidArgument, naming the input, when an
// input has no dims or the inputs disagree: no single input is trusted for
// the row count, or one request's rows could be cut from another's.
Result<int64_t> batch_rows(const NamedTensors& inputs);

// One owning tensor per input name holding every request's rows in order.
// All requests must have the same batch_key and consistent batch_rows;
// InvalidArgument otherwise.
Result<NamedTensors> stack_inputs(const std::vector<const NamedTensors*>& requests);

// Rows [first, first + count) of each output, as tensors that share the
// batch output's memory when it is a fixed-size type (a view keeping the
// whole output alive) and owning copies for BYTES. Outputs whose first dim
// is not the batch size are an error: the model does not batch along dim 0.
Result<NamedTensors> slice_outputs(const NamedTensors& outputs, int64_t total_rows, int64_t first, int64_t count);

// Each request's share of one batch's outputs, in order (`rows`: each
// request's row count, as stacked): the outputs themselves for a batch of
// one request, the batch's failure for every request when it failed.
std::vector<Result<NamedTensors>> split_outputs(Result<NamedTensors> outputs, const std::vector<int64_t>& rows);

}  // namespace polaris
