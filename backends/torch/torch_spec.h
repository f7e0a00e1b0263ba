// Pieces of the torch backend that need no libtorch header, kept apart so
// they compile fast: the tensor specs a user may give for a TorchScript model
// (whose archive records no dtypes or shapes), the output naming convention
// and the memory prediction.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/model_metadata.h"
#include "core/status.h"

namespace polaris::torch_backend {

// Declared inputs/outputs. Each side comes from the load parameter of the
// same name ("inputs"/"outputs", a JSON array such as
// [{"name":"x","datatype":"FP32","shape":[-1,64]}]), else from a sidecar
// file `<model path>.json` or `<folder>/<model stem>.json` holding
// {"inputs": [...], "outputs": [...]} (a `<stem>.json` that is not such an
// object is some other file and is ignored). A side with no declaration is
// empty.
struct ModelSpec {
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::string source;  // where it came from, for metadata and errors; "" if nowhere
};

Result<ModelSpec> find_model_spec(const std::string& model_path, const std::map<std::string, std::string>& parameters);
// Parses one side's JSON array; `what` names its source in errors.
Result<std::vector<TensorInfo>> parse_tensor_specs(const std::string& json_text, const std::string& what);

// Output naming (Triton's PyTorch convention): a returned tensor is
// "output__0"; the i-th element of a returned tuple or list is "output__<i>"
// unless the spec names outputs, in which case the i-th declared name is
// used; a returned Dict[str, Tensor] gives one output per key, named by the
// key, in the dict's insertion order (the order the model's code built it).
std::string positional_output_name(std::size_t index, const std::vector<TensorInfo>& declared_outputs);

// Before loading: a TorchScript archive stores its weights uncompressed, so
// weights resident after load are about the file size; freezing keeps a
// second, folded copy of them, and warm-up adds the activations. Measured
// with `polaris serve --threads 1` (docs/performance.md, "Memory
// prediction"): ResNet50 2.07x its file, MobileNetV2 2.4x, EfficientNet-Lite0
// 2.2x, EfficientNet-B0 2.8x, Silero VAD 7 MiB. 2x + 4 MiB is within 10% for
// ResNet50, MobileNetV2 and EfficientNet-Lite0; the model manager uses a
// model's own measurement from its second load on (runtime/measured_sizes.h).
inline constexpr double kPredictedMemoryFactor = 2.0;
inline constexpr uint64_t kPredictedMemoryConstant = 4ull << 20;
uint64_t predict_memory(uint64_t file_size_bytes);

// The most useful line of an engine's error text: TorchScript interpreter
// errors open with "The following operation failed in the TorchScript
// interpreter." and a traceback, and end with the real cause
// ("RuntimeError: The size of tensor a (3) must match ..."); other errors
// state their cause on the first line.
std::string engine_message_line(const std::string& what);

}  // namespace polaris::torch_backend
