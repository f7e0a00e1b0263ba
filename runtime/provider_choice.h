// Provider choice by measurement ("auto", Polaris's default for ONNX models).
//
// A model that names no provider (no polaris.provider parameter, no
// --provider, no instance_group kind) or names "auto" is timed at load on
// every provider this machine can run it on: ONNX Runtime's CPU provider,
// its WebGPU provider when a Vulkan device Dawn accepts exists, CUDA or
// MIGraphX when present, and OpenCV DNN on OpenCL when OpenCV will use an
// OpenCL device. Each candidate loads, runs the model's warm-up request
// (untimed, twice: first runs compile shaders and size arenas), then up to
// kMaxTimedRuns timed runs, stopping early when the candidate is over its
// time cap or is clearly slower than the best so far; the fastest median
// wins and stays loaded, the others are unloaded at once.
//
// The decision is cached by the model's content hash (sha256, found through
// the content-hash index ONNX Runtime's optimized-model cache keeps) and the
// machine's identity (the candidate devices' names and drivers, the engines'
// versions), in <cache dir>/provider-choice/, so later loads on the same
// machine only read a small file. With one candidate nothing is measured.
//
// "priority" asks for the engine's static order instead (ONNX Runtime:
// CUDA, MIGraphX, WebGPU, CPU); any other name is an explicit choice.
// Thread-safety: choose_provider may run concurrently, but measurements are
// only meaningful when loads do not overlap (the model manager serialises
// them); inference of other models may run meanwhile, hence medians.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/registry.h"
#include "core/status.h"
#include "proto/model_config.pb.h"

namespace polaris {

inline constexpr const char* kAutoProvider = "auto";
inline constexpr const char* kPriorityProvider = "priority";

// Measurement limits: enough runs for a median that ignores one disturbed
// run, few enough that a slow provider (software Vulkan, PoCL: near a second
// per image) cannot stall a load for long.
inline constexpr int kWarmupRuns = 2;
inline constexpr int kMaxTimedRuns = 5;
inline constexpr std::chrono::milliseconds kCandidateTimeCap{3000};
// A candidate whose fastest run is this much slower than the best median so
// far cannot win: it stops after that run.
inline constexpr double kClearlySlower = 1.5;

struct ProviderCandidate {
  Backend* backend = nullptr;
  std::string provider;  // the name LoadOptions::providers takes: "cpu", "webgpu", "opencl"...
};

struct ProviderChoice {
  Backend* backend = nullptr;    // null: leave the loader's backend and options alone
  std::unique_ptr<Model> model;  // the measured winner, loaded and warm; null when nothing was measured
  // Entries for the model's metadata: provider_auto (the measurements and
  // the choice), provider_auto_source (measured / cached / only candidate),
  // provider_auto_skipped (providers that were not candidates, and why).
  std::map<std::string, std::string> info;
};

struct ChoiceRequest {
  std::string path;       // the model file
  std::string model_dir;  // for warm-up data files
  inference::ModelConfig config;
  // The instance placement already names providers (instance_group kind):
  // nothing to choose.
  bool placed = false;
};

// Resolves the provider request in `options` (its polaris.provider
// parameter, else options.providers): "auto" or nothing measures (or reads
// the cached decision) and rewrites `options` to the chosen provider;
// "priority" clears it to the engine's own order; explicit names are left
// as they are. The parameter is always consumed here, so engines never see
// "auto" or "priority".
Result<ProviderChoice> choose_provider(BackendRegistry& registry, const ChoiceRequest& request, LoadOptions& options);

// The providers this machine can run `path` on (the config's backend or
// platform, else every engine that reads the file), measurement order (CPU
// first); `skipped` gets "provider: why not" for the others. Empty for
// models auto does not apply to (TorchScript).
std::vector<ProviderCandidate> provider_candidates(BackendRegistry& registry, const std::string& path,
                                                   const inference::ModelConfig& config,
                                                   std::vector<std::string>& skipped);

// Runs device discovery now if this load may choose by measurement (a model
// of ONNX Runtime or OpenCV asking for "auto" or nothing) and it has not run
// yet. The loader calls it before it
// measures a load's memory: the drivers' start-up allocations (tens of MiB
// with PoCL and a Vulkan loader) are the process's, not the model's.
void prepare_provider_choice(BackendRegistry& registry, const Backend& backend, const LoadOptions& options);

// The GPUs the CUDA and MIGraphX providers address as device 0..n-1: the
// CUDA driver's devices, else the amdgpu cards; 0 on a CPU-only machine.
// From the same once-per-process discovery as the provider choice.
int machine_gpu_count(BackendRegistry& registry);

// How many candidates this process has timed: a cached decision times none.
uint64_t provider_measurement_count();

// Where what loads learn is kept (decisions, measured sizes):
// BackendConfig::cache_dir, else $XDG_CACHE_HOME/polaris, else
// ~/.cache/polaris; empty when none of them is set.
std::string cache_root(const BackendConfig& config);

// Where decisions are kept: <cache root>/provider-choice.
std::string provider_choice_dir(const BackendConfig& config);

}  // namespace polaris
