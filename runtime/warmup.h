// Warm-up requests, run once after a load and before the model reports
// ready, so the first real request does not pay for lazy allocations
// (ORT's arena, libtorch's profiling executor).
//
// With a `model_warmup` list in the config, those samples (Triton's
// semantics: zero_data, random_data, or input_data_file read from
// <model dir>/warmup/, batch_size, count). Without one, Polaris's default:
// one request with zeros, every dynamic dim set to 1 (none when an input's
// type is unknown before the first request).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/model_metadata.h"
#include "core/status.h"
#include "core/tensor.h"
#include "proto/model_config.pb.h"

namespace polaris {

// The largest warm-up tensor Polaris builds: a config is input from a
// repository, and its dims must not make us allocate without bound.
inline constexpr std::size_t kMaxWarmupTensorBytes = std::size_t{256} << 20;

struct WarmupSample {
  std::string name;
  NamedTensors inputs;
  uint32_t count = 1;
  bool from_config = false;  // a failure of a configured sample fails the load
};

Result<std::vector<WarmupSample>> warmup_samples(const inference::ModelConfig& config, const ModelMetadata& metadata,
                                                 const std::string& model_dir);

}  // namespace polaris
