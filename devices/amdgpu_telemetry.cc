// amdgpu's telemetry from sysfs (Documentation/gpu/amdgpu/thermal.rst and
// driver-core.rst in the kernel): no library, no ROCm, so it works for the
// RX 580 (gfx8), which ROCm no longer supports.
//
//   device/gpu_busy_percent        "37\n": percent of time the GPU was busy
//   device/mem_info_vram_total     bytes
//   device/mem_info_vram_used      bytes
//   device/hwmon/hwmonN/power1_average   µW (older ASICs, the RX 580)
//   device/hwmon/hwmonN/power1_input     µW (newer ASICs that dropped power1_average)
//   device/hwmon/hwmonN/power1_cap       µW, the power limit
//   device/hwmon/hwmonN/energy1_input    µJ, the hwmon ABI's energy counter (when the driver has one)
//   device/unique_id               16 hex digits (Vega 20 and newer only)
#include <algorithm>
#include <filesystem>

#include "devices/gpu_telemetry.h"
#include "devices/sysfs.h"

namespace polaris::devices {
namespace {

namespace fs = std::filesystem;

// The card's PCI address ("0000:03:00.0"): PCI_SLOT_NAME from uevent, else
// the name the `device` symlink points at; "" when neither is there.
std::string pci_address(const fs::path& device) {
  if (std::string slot = sysfs::uevent_value(device, "PCI_SLOT_NAME"); !slot.empty()) return slot;
  std::error_code ec;
  const fs::path target = fs::read_symlink(device, ec);
  return ec ? "" : target.filename().string();
}

std::string gpu_uuid(const fs::path& card) {
  const fs::path device = card / "device";
  if (std::string id = sysfs::read_line(device / "unique_id"); !id.empty()) return "GPU-" + id;
  const std::string pci = pci_address(device);
  return "GPU-amd-" + (pci.empty() ? card.filename().string() : pci);
}

// The device's hwmon folder (amdgpu registers exactly one); "" when none.
fs::path hwmon_dir(const fs::path& device) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(device / "hwmon", ec))
    if (entry.path().filename().string().rfind("hwmon", 0) == 0) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs.empty() ? fs::path() : dirs.front();
}

std::optional<double> micro_to_unit(const fs::path& file) {
  if (const auto v = sysfs::read_uint(file)) return static_cast<double>(*v) / 1e6;
  return std::nullopt;
}

}  // namespace

std::vector<GpuSample> sample_amdgpu(const std::string& sysfs_root) {
  std::vector<GpuSample> out;
  for (const auto& card : sysfs::drm_cards(sysfs_root)) {
    const fs::path device = card / "device";
    // The attributes below are amdgpu's; the radeon driver (and other
    // vendors' cards) name things differently or not at all.
    if (sysfs::kernel_driver(device) != "amdgpu") continue;
    GpuSample s;
    s.uuid = gpu_uuid(card);
    s.source = "amdgpu";
    s.name = card.filename().string();
    // VRAM accounting is the memory manager's bookkeeping: reading it never
    // touches the hardware.
    s.memory_total_bytes = sysfs::read_uint(device / "mem_info_vram_total");
    s.memory_used_bytes = sysfs::read_uint(device / "mem_info_vram_used");
    // A runtime-suspended card is idle by definition, and reading its
    // busy counter or sensors would power it up (the driver resumes the
    // device to answer): report it idle and leave power out.
    if (sysfs::read_line(device / "power/runtime_status") == "suspended") {
      s.utilization = 0.0;
      out.push_back(std::move(s));
      continue;
    }
    if (const auto busy = sysfs::read_uint(device / "gpu_busy_percent"))
      s.utilization = static_cast<double>(std::min<uint64_t>(*busy, 100)) / 100.0;
    if (const fs::path hwmon = hwmon_dir(device); !hwmon.empty()) {
      s.power_watts = micro_to_unit(hwmon / "power1_average");
      if (!s.power_watts) s.power_watts = micro_to_unit(hwmon / "power1_input");
      s.power_limit_watts = micro_to_unit(hwmon / "power1_cap");
      s.energy_joules = micro_to_unit(hwmon / "energy1_input");
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace polaris::devices
