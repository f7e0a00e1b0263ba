// One inference request and its response, independent of the protocol:
// the HTTP and gRPC frontends decode into these and encode from them, and
// InferenceService (inference_service.h) runs them.
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/tensor.h"
#include "server/shared_memory_registry.h"

namespace polaris {

// A request/tensor parameter as the protocols carry them
// (KServe InferParameter: bool, int64, string, double, uint64).
using ParameterValue = std::variant<bool, int64_t, std::string, double, uint64_t>;
using Parameters = std::map<std::string, ParameterValue>;

struct RequestedOutput {
  std::string name;
  bool binary = false;          // HTTP: answer in the binary extension
  uint32_t classification = 0;  // > 0: the classification extension's top-k
  // Set when the output goes to system shared memory (shared_memory_region
  // and friends): the service writes its bytes there, the response carries
  // its metadata only.
  std::optional<SharedMemoryWindow> shared_memory = std::nullopt;
};

struct InferRequest {
  std::string model_name;
  int64_t model_version = 0;  // 0: the latest ready version
  std::string id;             // echoed when non-empty
  Parameters parameters;
  NamedTensors inputs;  // views into the request's buffers where possible
  std::vector<RequestedOutput> outputs;  // empty: every output
  bool binary_outputs = false;  // HTTP: binary_data_output, the default for outputs not listed
  bool run_inline = false;  // the caller's thread may run the engine (InferJob::allow_inline)
};

struct InferOutput {
  std::string name;
  Tensor tensor;
  bool binary = false;
  // Set when the bytes were written to this shared memory window: the
  // encoders send name, datatype and shape, no data (as Triton).
  std::optional<SharedMemoryWindow> shared_memory = std::nullopt;
};

struct InferResponse {
  std::string model_name;
  std::string model_version;  // a numeric string, as the protocol writes it
  std::string id;
  std::vector<InferOutput> outputs;
};

}  // namespace polaris
