// Loading one model version, start to ready: engine load, config check and
// completion, warm-up, and the memory it took. No locks, no accounting:
// ModelManager decides when and whether; this does the work.
// Thread-safety: load_model_instance may run concurrently; the RSS-based
// measurement is only exact when loads do not overlap (the manager
// serialises them).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/registry.h"
#include "core/status.h"
#include "proto/model_config.pb.h"

namespace polaris {

struct InstanceRequest {
  std::string model_name;
  std::string path;       // the model file
  std::string model_dir;  // <repo>/<model>, for warm-up data files
  inference::ModelConfig config;
  bool has_config = false;  // a config.pbtxt to validate against the model
  LoadOptions options;      // defaults; the config's parameters are added
  bool warmup = true;
  std::string config_source = "config.pbtxt";  // where the config came from, for errors
  // Run `polaris validate`'s checks (runtime/model_check.h) after warm-up;
  // a failed check fails the load. Poll mode sets it for new versions.
  bool check = false;
};

struct LoadedInstance {
  std::unique_ptr<Model> model;
  // Further instances from the config's instance_group counts (the first
  // is `model`); metadata.extra_info["instances"] lists where each runs.
  std::vector<std::unique_ptr<Model>> extra_instances;
  // The engine's metadata plus what loading learned: the measured size and
  // extra_info["warmup"].
  ModelMetadata metadata;
  inference::ModelConfig config;  // completed from the model's metadata
  std::string engine;             // Backend::name() of the engine that loaded it
  std::string device;             // "cpu", "gpu:N": where its memory lives
  uint64_t measured_bytes = 0;
  std::chrono::milliseconds load_duration{0};
};

// The engine module a model needs: the config's backend or platform, else
// the file extension.
Result<Backend*> backend_for_model(BackendRegistry& registry, const std::string& path,
                                   const inference::ModelConfig& config);

// The memory device a provider's allocations live on: CUDA, TensorRT,
// MIGraphX and ROCm providers ("cuda:1") count on "gpu:N"; everything else,
// including WebGPU and OpenCL on this project's CPU drivers, on "cpu".
std::string memory_device_of(const std::string& provider);

// Where one instance runs: the providers to ask for, from its group.
struct InstancePlacement {
  inference::ModelInstanceGroup::Kind kind = inference::ModelInstanceGroup::KIND_AUTO;
  int gpu = -1;  // KIND_GPU: the device; -1: any
  std::vector<std::string> providers;  // empty: the load defaults
};

// One placement per instance, as Triton places them: a KIND_CPU group
// gives `count` (default 1) instances for the CPU; a KIND_GPU group gives
// `count` instances on each GPU in its `gpus`, or on each of the machine's
// GPUs when it lists none (`machine_gpus()`, asked only then), or on GPU 0
// when the machine has none. GPU instances ask for the GPU providers
// (CUDA, MIGraphX with the GPU's number, then WebGPU), falling back to the
// CPU with the reason in the metadata, as any provider request does. No
// group: one instance with the defaults. InvalidArgument for a negative
// count or GPU number, or more than kMaxInstances in all.
inline constexpr int kMaxInstances = 64;
Result<std::vector<InstancePlacement>> plan_instances(const inference::ModelConfig& config,
                                                      const std::function<int()>& machine_gpus);

// Loads, validates, completes, warms up, measures. The measured size is the
// C heap's growth over load and warm-up (heap_in_use_bytes; RSS growth where
// the heap cannot be read), and at least the file size. The heap, not RSS:
// RSS growth under-counts when the load reuses pages an unload freed, and
// then depends on what was unloaded before.
Result<LoadedInstance> load_model_instance(BackendRegistry& registry, const InstanceRequest& request);

}  // namespace polaris
