// AMD GPUs from sysfs, whatever driver stack is installed: DRM cards whose
// PCI vendor is 0x1002 (amdgpu or the old radeon driver), with the gfx
// target from the KFD topology when the amdgpu kernel driver exposes it
// (gfx803 for an RX 580). Reading sysfs needs no library and cannot fail
// hard: missing files only leave fields out.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "devices/probes.h"
#include "devices/sysfs.h"

namespace polaris::devices {
namespace {

namespace fs = std::filesystem;
using sysfs::read_line;

// "gfx_target_version 80003" -> "gfx803"; 90010 -> "gfx90a" (the stepping
// is written in hex, as LLVM names the targets).
std::string gfx_name(uint64_t v) {
  if (v == 0) return "";
  std::ostringstream out;
  out << "gfx" << v / 10000 << (v / 100) % 100 << std::hex << v % 100;
  return out.str();
}

struct KfdNode {
  uint64_t device_id = 0;
  std::string gfx_target;
  uint64_t simd_count = 0;
};

// GPU nodes of the KFD topology (CPU nodes have no SIMDs), by PCI device id.
std::map<uint64_t, KfdNode> kfd_gpu_nodes(const fs::path& root) {
  std::map<uint64_t, KfdNode> out;
  std::error_code ec;
  for (const auto& node : fs::directory_iterator(root / "class/kfd/kfd/topology/nodes", ec)) {
    std::ifstream in(node.path() / "properties");
    std::string key;
    uint64_t value = 0;
    KfdNode n;
    uint64_t vendor = 0;
    while (in >> key >> value) {
      if (key == "simd_count") n.simd_count = value;
      if (key == "device_id") n.device_id = value;
      if (key == "vendor_id") vendor = value;
      if (key == "gfx_target_version") n.gfx_target = gfx_name(value);
    }
    if (n.simd_count > 0 && vendor == 0x1002) out[n.device_id] = n;
  }
  return out;
}

}  // namespace

DeviceSource probe_amd(const std::string& sysfs_root) {
  DeviceSource source{"amd", false, "", {}};
  const fs::path root(sysfs_root);
  const auto kfd = kfd_gpu_nodes(root);
  for (const auto& card : sysfs::drm_cards(root)) {
    if (read_line(card / "device/vendor") != "0x1002") continue;
    const std::string pci_id = read_line(card / "device/device");
    Device d;
    d.id = "amd:" + card.filename().string();
    d.type = "gpu";
    const std::string product = read_line(card / "device/product_name");
    d.name = !product.empty() ? product : "AMD GPU " + pci_id;
    d.properties["pci_device_id"] = pci_id;
    const std::string driver = sysfs::kernel_driver(card / "device");
    d.properties["kernel_driver"] = driver.empty() ? "none" : driver;
    if (const auto vram = sysfs::read_uint(card / "device/mem_info_vram_total")) d.memory_bytes = *vram;
    uint64_t id = 0;
    try {
      id = std::stoull(pci_id, nullptr, 16);
    } catch (const std::exception&) {
    }
    if (auto it = kfd.find(id); it != kfd.end()) {
      if (!it->second.gfx_target.empty()) d.properties["gfx_target"] = it->second.gfx_target;
      d.properties["simd_count"] = std::to_string(it->second.simd_count);
    }
    source.devices.push_back(std::move(d));
  }
  source.available = !source.devices.empty();
  if (!source.available)
    source.reason = "no AMD GPU: no DRM card with PCI vendor 0x1002 under " + (root / "class/drm").string();
  return source;
}

}  // namespace polaris::devices
