// GPU telemetry behind Triton's nv_gpu_* metrics: utilisation, memory, power
// and energy per GPU, read from the drivers' own counters.
//
// Two sources, both without linking anything:
//  - NVIDIA: NVML (libnvidia-ml.so.1, dlopen'ed once; nvml_telemetry.cc).
//  - AMD: the amdgpu kernel driver's sysfs attributes (gpu_busy_percent,
//    mem_info_vram_*, hwmon power), the RX 580's only telemetry without ROCm.
// A machine with neither (a CPU server) yields no GPU and no error. Every
// read that fails leaves that one field out: a scrape never fails for it.
// Thread-safety: the free functions are thread-safe; GpuTelemetry::sample too.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace polaris::devices {

struct GpuSample {
  // Triton's `gpu_uuid` label. NVML: its own UUID ("GPU-8e1f..."). amdgpu:
  // "GPU-" + the card's `unique_id` (16 hex digits, the form ROCm's
  // rocminfo prints) where the ASIC has one (Vega 20 and newer), else
  // "GPU-amd-" + the PCI address ("GPU-amd-0000:03:00.0": stable while the
  // card stays in its slot; gfx8 cards such as the RX 580 have no unique_id).
  std::string uuid;
  std::string source;  // "nvml" or "amdgpu"
  std::string name;    // sysfs card ("card0") or NVML index ("nvml:0"), for logs and tests
  std::optional<double> utilization;  // 0..1
  std::optional<uint64_t> memory_total_bytes;
  std::optional<uint64_t> memory_used_bytes;
  std::optional<double> power_watts;
  std::optional<double> power_limit_watts;
  // The device's cumulative energy counter, origin chosen by the driver
  // (NVML: since the driver loaded); GpuTelemetry makes it "since start".
  std::optional<double> energy_joules;
};

// Cards bound to the amdgpu kernel driver under <sysfs_root>/class/drm.
// Cards of other drivers (radeon, i915, nouveau...) are skipped. A card the
// kernel has runtime-suspended reports utilisation 0 and no power: reading
// gpu_busy_percent or hwmon would wake it up.
std::vector<GpuSample> sample_amdgpu(const std::string& sysfs_root = "/sys");

// NVIDIA GPUs through NVML; empty when libnvidia-ml.so.1 is missing or
// nvmlInit fails (no driver, no GPU).
std::vector<GpuSample> sample_nvml();

struct GpuTelemetryOptions {
  std::string sysfs_root = "/sys";
  bool nvml = true;
  // Samples younger than this are served again: several scrapers (or a
  // dashboard refreshing) cost one read of each counter per interval.
  std::chrono::milliseconds max_age{1000};
};

// Both sources behind a short cache, with energy made relative to the first
// sample (Triton's nv_energy_consumption counts "since the server started").
class GpuTelemetry {
 public:
  // Takes the first sample now, so energy counts from construction.
  explicit GpuTelemetry(GpuTelemetryOptions options = {});

  std::vector<GpuSample> sample();

 private:
  std::vector<GpuSample> read_all() const;

  struct Energy {
    double last = 0;      // the device counter at the previous sample
    double since_start = 0;
  };

  const GpuTelemetryOptions options_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point taken_;  // guarded by mu_
  std::vector<GpuSample> cached_;                // guarded by mu_
  std::map<std::string, Energy> energy_;         // by uuid; guarded by mu_
  bool have_sample_ = false;                     // guarded by mu_
};

}  // namespace polaris::devices
