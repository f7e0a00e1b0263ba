#include "devices/gpu_telemetry.h"

#include <utility>

namespace polaris::devices {

GpuTelemetry::GpuTelemetry(GpuTelemetryOptions options) : options_(std::move(options)) { sample(); }

std::vector<GpuSample> GpuTelemetry::read_all() const {
  std::vector<GpuSample> all = options_.nvml ? sample_nvml() : std::vector<GpuSample>{};
  for (auto& s : sample_amdgpu(options_.sysfs_root)) all.push_back(std::move(s));
  return all;
}

std::vector<GpuSample> GpuTelemetry::sample() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (have_sample_ && now - taken_ < options_.max_age) return cached_;
  cached_ = read_all();
  taken_ = now;
  have_sample_ = true;
  // The device counters start when the driver loads; Triton reports energy
  // since the server started. Only increases are added, so a counter that
  // restarts (a driver reload) never makes the result go backwards, as a
  // Prometheus counter must not.
  for (auto& s : cached_) {
    if (!s.energy_joules) continue;
    const double raw = *s.energy_joules;
    auto [it, first] = energy_.try_emplace(s.uuid, Energy{raw, 0.0});
    if (!first && raw > it->second.last) it->second.since_start += raw - it->second.last;
    it->second.last = raw;
    s.energy_joules = it->second.since_start;
  }
  return cached_;
}

}  // namespace polaris::devices
