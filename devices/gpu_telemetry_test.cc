// GPU telemetry (the nv_gpu_* metrics' source) on sysfs trees laid out as
// the amdgpu driver lays out /sys (class/drm/cardN are symlinks into the PCI
// device tree, `device` and `driver` are symlinks, hwmon below the PCI
// device), with attribute contents in the kernel's formats; and on this
// machine's real /sys and NVML, which on CI have no GPU: nothing, no error.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "devices/gpu_telemetry.h"
#include "devices/sysfs.h"

namespace polaris::devices {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

// A fake /sys: PCI devices under devices/pci0000:00, DRM cards linked from
// class/drm as the kernel does.
class SysfsTree {
 public:
  SysfsTree() : root_(fs::temp_directory_path() / ("polaris-gpu-sysfs-" + std::to_string(getpid()))) {
    fs::remove_all(root_);
    fs::create_directories(root_ / "bus/pci/drivers");
    fs::create_directories(root_ / "class/drm");
  }
  ~SysfsTree() { fs::remove_all(root_); }
  const fs::path& root() const { return root_; }

  // The PCI device folder of card `card` at `slot`, bound to `driver` ("" for
  // no driver symlink), with DRIVER= and PCI_SLOT_NAME= in uevent when asked.
  fs::path add_card(const std::string& card, const std::string& slot, const std::string& driver,
                    bool uevent_slot = true) {
    const fs::path pci = root_ / "devices/pci0000:00/0000:00:03.1" / slot;
    fs::create_directories(pci / "drm" / card);
    fs::create_directory_symlink("../../../" + slot, pci / "drm" / card / "device");
    fs::create_directory_symlink(fs::relative(pci / "drm" / card, root_ / "class/drm"), root_ / "class/drm" / card);
    if (!driver.empty()) {
      fs::create_directories(root_ / "bus/pci/drivers" / driver);
      fs::create_directory_symlink(fs::relative(root_ / "bus/pci/drivers" / driver, pci), pci / "driver");
    }
    write(pci / "uevent", "DRIVER=" + driver + "\nPCI_CLASS=30000\n" +
                              (uevent_slot ? "PCI_SLOT_NAME=" + slot + "\n" : std::string()));
    return pci;
  }

 private:
  fs::path root_;
};

const GpuSample* find(const std::vector<GpuSample>& samples, const std::string& name) {
  for (const auto& s : samples)
    if (s.name == name) return &s;
  return nullptr;
}

// An RX 580 (Polaris 10, gfx8: no unique_id) as amdgpu shows it, an Intel
// iGPU beside it, a newer AMD card, and an amdgpu card missing everything.
TEST(GpuTelemetry, AmdgpuSysfsTree) {
  SysfsTree tree;
  const fs::path rx580 = tree.add_card("card0", "0000:03:00.0", "amdgpu");
  write(rx580 / "vendor", "0x1002\n");
  write(rx580 / "device", "0x67df\n");
  write(rx580 / "gpu_busy_percent", "37\n");
  write(rx580 / "mem_info_vram_total", "8589934592\n");
  write(rx580 / "mem_info_vram_used", "1179648000\n");
  write(rx580 / "power/runtime_status", "active\n");
  write(rx580 / "hwmon/hwmon2/name", "amdgpu\n");
  write(rx580 / "hwmon/hwmon2/power1_average", "45000000\n");
  write(rx580 / "hwmon/hwmon2/power1_cap", "145000000\n");
  fs::create_directories(tree.root() / "class/drm/card0-DP-1");  // a connector, not a card
  fs::create_directories(tree.root() / "class/drm/renderD128");

  // i915 has no such attributes, but even if a file of that name were there
  // it is not amdgpu's: only the driver decides.
  const fs::path igpu = tree.add_card("card1", "0000:00:02.0", "i915");
  write(igpu / "vendor", "0x8086\n");
  write(igpu / "gpu_busy_percent", "50\n");
  write(igpu / "mem_info_vram_total", "1\n");

  // A newer card: unique_id, power1_input only (no power1_average), energy.
  const fs::path navi = tree.add_card("card2", "0000:0c:00.0", "amdgpu");
  write(navi / "unique_id", "3a5c1d6e2f7b8091\n");
  write(navi / "gpu_busy_percent", "100\n");
  write(navi / "mem_info_vram_total", "17163091968\n");
  write(navi / "mem_info_vram_used", "0\n");
  write(navi / "hwmon/hwmon5/power1_input", "212000000\n");
  write(navi / "hwmon/hwmon5/energy1_input", "123456789\n");

  // amdgpu, found through uevent only (no driver symlink), nothing readable:
  // a busy counter that fails (empty read) or is not a number is left out.
  const fs::path bare = tree.add_card("card3", "0000:0d:00.0", "", /*uevent_slot=*/false);
  write(bare / "uevent", "DRIVER=amdgpu\n");
  write(bare / "gpu_busy_percent", "");
  write(bare / "mem_info_vram_total", "N/A\n");

  const auto samples = sample_amdgpu(tree.root().string());
  ASSERT_EQ(samples.size(), 3u) << "card1 (i915) and the connector/render entries are not amdgpu cards";
  EXPECT_EQ(find(samples, "card1"), nullptr);

  const GpuSample* a = find(samples, "card0");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->uuid, "GPU-amd-0000:03:00.0");
  EXPECT_EQ(a->source, "amdgpu");
  ASSERT_TRUE(a->utilization && a->memory_total_bytes && a->memory_used_bytes && a->power_watts &&
              a->power_limit_watts);
  EXPECT_DOUBLE_EQ(*a->utilization, 0.37);
  EXPECT_EQ(*a->memory_total_bytes, 8589934592u);
  EXPECT_EQ(*a->memory_used_bytes, 1179648000u);
  EXPECT_DOUBLE_EQ(*a->power_watts, 45.0);
  EXPECT_DOUBLE_EQ(*a->power_limit_watts, 145.0);
  EXPECT_FALSE(a->energy_joules) << "amdgpu has no energy counter on this card";

  const GpuSample* b = find(samples, "card2");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->uuid, "GPU-3a5c1d6e2f7b8091") << "unique_id, in ROCm's GPU-<16 hex> form";
  EXPECT_DOUBLE_EQ(b->utilization.value_or(-1), 1.0);
  EXPECT_EQ(b->memory_used_bytes.value_or(1), 0u);
  EXPECT_DOUBLE_EQ(b->power_watts.value_or(-1), 212.0);
  EXPECT_FALSE(b->power_limit_watts);
  EXPECT_DOUBLE_EQ(b->energy_joules.value_or(-1), 123.456789);

  const GpuSample* c = find(samples, "card3");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->uuid, "GPU-amd-0000:0d:00.0") << "the PCI address from the device symlink";
  EXPECT_FALSE(c->utilization);
  EXPECT_FALSE(c->memory_total_bytes);
  EXPECT_FALSE(c->memory_used_bytes);
  EXPECT_FALSE(c->power_watts);
  EXPECT_FALSE(c->power_limit_watts);
  EXPECT_FALSE(c->energy_joules);
}

// Reading gpu_busy_percent or hwmon of a runtime-suspended card would wake
// it: it is reported idle, without power.
TEST(GpuTelemetry, SuspendedCardIsIdleAndNotWoken) {
  SysfsTree tree;
  const fs::path pci = tree.add_card("card0", "0000:03:00.0", "amdgpu");
  write(pci / "power/runtime_status", "suspended\n");
  write(pci / "gpu_busy_percent", "99\n");
  write(pci / "mem_info_vram_total", "8589934592\n");
  write(pci / "hwmon/hwmon0/power1_average", "45000000\n");
  const auto samples = sample_amdgpu(tree.root().string());
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_DOUBLE_EQ(samples[0].utilization.value_or(-1), 0.0);
  EXPECT_EQ(samples[0].memory_total_bytes.value_or(0), 8589934592u);
  EXPECT_FALSE(samples[0].power_watts);
}

TEST(GpuTelemetry, NoSysfsAtAll) {
  EXPECT_TRUE(sample_amdgpu("/nonexistent-sysfs").empty());
}

// Energy counts from the first sample and only goes up (a counter that
// restarts, as after a driver reload, adds nothing); samples are cached.
TEST(GpuTelemetry, EnergySinceStartAndCache) {
  SysfsTree tree;
  const fs::path pci = tree.add_card("card0", "0000:03:00.0", "amdgpu");
  const fs::path energy = pci / "hwmon/hwmon0/energy1_input";
  write(energy, "1000000000\n");  // 1000 J before the server started
  GpuTelemetry telemetry({tree.root().string(), /*nvml=*/false, std::chrono::milliseconds(0)});
  EXPECT_DOUBLE_EQ(telemetry.sample().at(0).energy_joules.value_or(-1), 0.0);
  write(energy, "1005000000\n");
  EXPECT_DOUBLE_EQ(telemetry.sample().at(0).energy_joules.value_or(-1), 5.0);
  write(energy, "2000000\n");  // the driver's counter restarted
  EXPECT_DOUBLE_EQ(telemetry.sample().at(0).energy_joules.value_or(-1), 5.0);
  write(energy, "3000000\n");
  EXPECT_DOUBLE_EQ(telemetry.sample().at(0).energy_joules.value_or(-1), 6.0);

  GpuTelemetry cached({tree.root().string(), /*nvml=*/false, std::chrono::hours(1)});
  write(pci / "gpu_busy_percent", "10\n");
  EXPECT_FALSE(cached.sample().at(0).utilization) << "the first sample (construction) is served again";
  GpuTelemetry fresh({tree.root().string(), /*nvml=*/false, std::chrono::hours(1)});
  EXPECT_DOUBLE_EQ(fresh.sample().at(0).utilization.value_or(-1), 0.1);
}

// This machine's real /sys and NVML: exactly the amdgpu cards the kernel
// lists (none on CI), and NVIDIA GPUs only where libnvidia-ml.so.1 exists.
TEST(GpuTelemetry, ThisMachine) {
  size_t amdgpu_cards = 0;
  for (const auto& card : sysfs::drm_cards("/sys"))
    if (sysfs::kernel_driver(card / "device") == "amdgpu") ++amdgpu_cards;
  const auto amd = sample_amdgpu();
  EXPECT_EQ(amd.size(), amdgpu_cards);

  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  const bool have_nvml = nvml != nullptr;
  if (have_nvml) dlclose(nvml);
  const auto nvidia = sample_nvml();
  if (!have_nvml) {
    EXPECT_TRUE(nvidia.empty());
  }
  for (const auto& g : nvidia) {
    EXPECT_EQ(g.uuid.rfind("GPU-", 0), 0u) << g.uuid;
    if (g.utilization) {
      EXPECT_GE(*g.utilization, 0.0);
      EXPECT_LE(*g.utilization, 1.0);
    }
  }

  GpuTelemetry telemetry;
  EXPECT_EQ(telemetry.sample().size(), amd.size() + nvidia.size());
  std::cout << "this machine: " << amd.size() << " amdgpu card(s), " << nvidia.size() << " NVML GPU(s)"
            << (have_nvml ? "" : " (no libnvidia-ml.so.1)") << "\n";
}

}  // namespace
}  // namespace polaris::devices
