// What the fuzz targets share: a check that turns a broken invariant into a
// crash libFuzzer records, the fixed model config requests are validated
// against (Triton's `simple`), and the batching every decoded request goes
// through. Fuzz-only code, never linked into Polaris.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "proto/model_config.pb.h"
#include "runtime/batching.h"
#include "runtime/model_config.h"

// Aborts (a crash, so libFuzzer keeps the input) when `cond` is false.
#define POLARIS_FUZZ_CHECK(cond, ...)                                                   \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "fuzz check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                \
      std::fputc('\n', stderr);                                                         \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace polaris::fuzz {

// Targets skip the inputs of defects already found and not yet fixed (each
// skip says which, docs/fuzzing.md lists them), so a run can find others.
// POLARIS_FUZZ_SHOW_KNOWN=1 turns the skips off: the reproducers in
// fuzz/crashes/<target>/ then crash again until the defect is fixed.
inline bool skip_known_defects() {
  static const bool skip = std::getenv("POLARIS_FUZZ_SHOW_KNOWN") == nullptr;
  return skip;
}

// Parses a config the target itself wrote; a failure is a bug in the target.
inline inference::ModelConfig config_from_text(const char* text) {
  auto config = parse_model_config(text, "fuzz config");
  POLARIS_FUZZ_CHECK(config.ok(), "%s", config.status().to_string().c_str());
  return *config;
}

// Triton's `simple` example model: two INT32 [16] inputs, batching up to 8.
inline const inference::ModelConfig& simple_config() {
  static const inference::ModelConfig config = config_from_text(R"pb(
    name: "simple"
    platform: "onnxruntime_onnx"
    max_batch_size: 8
    input [
      { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
      { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
    ]
    output [
      { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
      { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
    ]
  )pb");
  return config;
}

// Reads every byte of a tensor (so ASan checks that a view lies in live
// memory) and checks that its size is what dtype x shape says.
inline void check_tensor(const std::string& name, const Tensor& t) {
  unsigned sum = 0;
  for (std::byte b : t.bytes()) sum += static_cast<unsigned>(b);
  (void)sum;
  auto count = t.shape().element_count();
  POLARIS_FUZZ_CHECK(count.ok(), "input '%s' has shape %s: %s", name.c_str(), t.shape().to_string().c_str(),
                     count.status().to_string().c_str());
  if (t.dtype() == DataType::kBytes) {
    auto strings = t.strings();
    POLARIS_FUZZ_CHECK(strings.ok(), "input '%s': %s", name.c_str(), strings.status().to_string().c_str());
  } else {
    POLARIS_FUZZ_CHECK(t.byte_size() == static_cast<std::size_t>(*count) * element_size(t.dtype()),
                       "input '%s' has %zu bytes for %s %s", name.c_str(), t.byte_size(),
                       std::string(to_string(t.dtype())).c_str(), t.shape().to_string().c_str());
  }
}

// The dynamic batcher's data path on one request stacked with itself:
// batch_rows, then stack_inputs, whose result must be the request's rows
// twice over, byte for byte.
inline void stack_with_itself(const NamedTensors& inputs) {
  const Result<int64_t> rows = batch_rows(inputs);
  const Result<NamedTensors> stacked = stack_inputs({&inputs, &inputs});
  if (!rows.ok()) {
    POLARIS_FUZZ_CHECK(!stacked.ok(), "stack_inputs accepted inputs batch_rows refused: %s",
                       rows.status().to_string().c_str());
    return;
  }
  if (!stacked.ok()) return;  // e.g. twice the rows is more than 2^48 elements
  POLARIS_FUZZ_CHECK(stacked->size() == inputs.size(), "%zu inputs stacked into %zu", inputs.size(), stacked->size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i].tensor;
    const Tensor& out = (*stacked)[i].tensor;
    POLARIS_FUZZ_CHECK((*stacked)[i].name == inputs[i].name, "stacked input %zu renamed", i);
    POLARIS_FUZZ_CHECK(out.dtype() == in.dtype() && out.shape().rank() == in.shape().rank() &&
                           out.shape()[0] == 2 * *rows,
                       "input '%s' %s stacked twice is %s", inputs[i].name.c_str(), in.shape().to_string().c_str(),
                       out.shape().to_string().c_str());
    POLARIS_FUZZ_CHECK(out.byte_size() == 2 * in.byte_size(), "input '%s': %zu bytes stacked twice are %zu",
                       inputs[i].name.c_str(), in.byte_size(), out.byte_size());
    if (in.byte_size() > 0) {
      POLARIS_FUZZ_CHECK(std::memcmp(out.data(), in.data(), in.byte_size()) == 0 &&
                             std::memcmp(static_cast<const char*>(out.data()) + in.byte_size(), in.data(),
                                         in.byte_size()) == 0,
                         "input '%s': stacked bytes differ", inputs[i].name.c_str());
    }
    check_tensor(inputs[i].name, out);
  }
}

}  // namespace polaris::fuzz
