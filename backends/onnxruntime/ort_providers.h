// Execution providers: names, the default priority, and how to enable one.
//
// Default order (auto): CUDA, MIGraphX, WebGPU, CPU. TensorRT only when asked
// (its engine builds take minutes). ROCm no longer exists upstream (removed
// in ORT 1.23). CPU is always the last resort.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace polaris::ort {

// "cuda" / "CUDAExecutionProvider" / "CUDA" -> "CUDAExecutionProvider";
// a device suffix is allowed and ignored here ("cuda:1"); an error for names
// ORT does not know.
Result<std::string> canonical_provider_name(const std::string& name);

// Options passed through to the GPU providers (CUDA, TensorRT, MIGraphX).
struct ProviderOptions {
  int device_id = 0;           // "cuda:N" in the request, or the parameter polaris.device_id
  uint64_t gpu_mem_limit = 0;  // bytes, 0: the provider's default; polaris.gpu_memory_limit ("2GiB")
};

// Reads them from the requested provider names and the load parameters.
// InvalidArgument for a malformed device or size.
Result<ProviderOptions> provider_options(const std::vector<std::string>& requested,
                                         const std::map<std::string, std::string>& parameters);

// The providers to try, in order: `requested` canonicalised (empty: the
// default priority), restricted to what this ORT build reports, CPU last.
// Requested-but-unavailable providers are reported in `skipped`.
std::vector<std::string> provider_plan(const std::vector<std::string>& requested,
                                       const std::vector<std::string>& available,
                                       std::vector<std::string>& skipped);

// Enables `provider` on `options` (CPU needs nothing). Throws Ort::Exception
// when the provider cannot be set up (missing provider library, no device).
void append_provider(Ort::SessionOptions& options, const std::string& provider,
                     const ProviderOptions& provider_options = {});

// The reason a provider could not start, for extra_info["provider_fallback"]:
// ORT's message without its source location and failed-check prefix
// ("/onnxruntime_src/...cc:136 ... was false. "), plus what to check when
// WebGPU found no adapter.
std::string provider_failure_reason(const std::string& provider, const std::string& ort_message);

// Short name for metadata and logs: "CPUExecutionProvider" -> "cpu".
std::string short_provider_name(const std::string& provider);

}  // namespace polaris::ort
