// System shared memory in infer requests, shared by the HTTP and gRPC codecs
// so both protocols check it the same way. An input or requested output
// names a window of a registered region (shared_memory_registry.h) with the
// parameters Triton's clients send: shared_memory_region (string),
// shared_memory_byte_size (integer, required with a region) and
// shared_memory_offset (integer, default 0).
//
// Inputs of fixed-size numeric types are views into the mapping (no copy;
// the tensor holds the region, so it stays mapped while the request runs),
// unless misaligned for their type. BYTES and BOOL inputs are copied: their
// bytes are checked (string lengths, 0 or 1), and the client can rewrite
// shared memory at any moment, so the bytes the engine reads must be the
// checked ones. Outputs are copied into their window once the model ran
// (the engines allocate their outputs themselves).
// Thread-safety: pure functions (the registry is thread-safe).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "server/shared_memory_registry.h"

namespace polaris {

// The shared-memory parameters of one input or requested output.
struct SharedMemoryRef {
  std::string region;
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

// Checks the parameters as the codecs found them (byte_size and offset
// nullopt when absent): a byte size is required, neither may be negative.
// `what` names the tensor in messages ("input 'INPUT0'").
Result<SharedMemoryRef> shared_memory_ref(std::string region, std::optional<int64_t> byte_size,
                                          std::optional<int64_t> offset, const std::string& what);

// An input read from its window. InvalidArgument when shared memory is not
// available (`registry` null), for a window outside its region or a byte
// size other than dtype x shape needs (fixed-size types); NotFound for an
// unknown region. Messages start with "input '<input>'".
Result<Tensor> tensor_from_shared_memory(const SharedMemoryRegistry* registry, DataType dtype, const Shape& shape,
                                         const SharedMemoryRef& ref, const std::string& input);

// The window a requested output is to be written to, checked against its
// region (the output's own size is checked when it is written).
Result<SharedMemoryWindow> output_window(const SharedMemoryRegistry* registry, const SharedMemoryRef& ref,
                                         const std::string& output);

// Copies an output into its window; InvalidArgument, naming both sizes, when
// the window is too small (Triton's wording).
Status write_to_shared_memory(const Tensor& tensor, const SharedMemoryWindow& window, const std::string& output);

}  // namespace polaris
