// Tensors over bytes received from a client (HTTP binary regions, gRPC raw
// contents), shared by both codecs so both protocols check them the same way.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace polaris {

// A view of `size` bytes at `data` (kept alive by `keepalive`), copied
// instead when the address is misaligned for the element type (engines may
// read it with aligned loads). Tensor checks the size against dtype x shape
// (and parses BYTES) before anything is kept; BOOL bytes must be 0 or 1.
// Errors are InvalidArgument "input '<input>' ...".
Result<Tensor> tensor_from_wire(DataType dtype, const Shape& shape, const char* data, std::size_t size,
                                const std::shared_ptr<const void>& keepalive, const std::string& input);

}  // namespace polaris
