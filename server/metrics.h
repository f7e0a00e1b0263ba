// Prometheus metrics: the Triton names users' dashboards read (nv_*), plus
// Polaris's own (polaris_*: memory per model and device, budget, loads,
// evictions, load durations, queue depth), rendered in the text exposition
// format by prometheus-cpp at scrape time from the runtime's own counters,
// so nothing is counted twice; GPU metrics (nv_gpu_*) come from NVML and
// amdgpu's sysfs through devices/gpu_telemetry.h. docs/server.md lists every
// metric. Thread-safety: render() is thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "devices/gpu_telemetry.h"
#include "runtime/model_manager.h"

namespace polaris {

class MetricsRenderer {
 public:
  // GPU telemetry from NVML and /sys, or from $POLARIS_SYSFS_ROOT when set (a
  // test and diagnostic knob: a prepared sysfs tree instead of the machine's).
  explicit MetricsRenderer(ModelManager& manager);
  MetricsRenderer(ModelManager& manager, devices::GpuTelemetryOptions gpu);
  std::string render();

 private:
  // Machine CPU utilisation since the previous scrape (Triton's
  // nv_cpu_utilization), from /proc/stat.
  double cpu_utilization();

  ModelManager& manager_;
  devices::GpuTelemetry gpus_;
  std::mutex mu_;
  uint64_t last_busy_ = 0, last_total_ = 0;  // guarded by mu_
};

}  // namespace polaris
