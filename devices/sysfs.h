// Small readers for Linux sysfs, shared by the AMD probe (amd_probe.cc) and
// the GPU telemetry (gpu_telemetry.cc).
//
// A sysfs attribute may be missing (an older kernel, another driver), or its
// read may fail (a driver's show() returning -EPERM while the GPU resets,
// -EOPNOTSUPP on an ASIC without the sensor). Every reader here turns that
// into "absent" ("" or nullopt), never an exception, so one bad attribute
// only leaves one field out. Every path is under a caller-given root, so
// tests can point it at a prepared tree instead of /sys.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace polaris::devices::sysfs {

// The first line of the file without its trailing newline/spaces; "" when
// the file is missing or the read fails.
std::string read_line(const std::filesystem::path& file);

// The file's first line as a decimal unsigned integer ("37\n" -> 37);
// nullopt when missing, unreadable, empty or not a number.
std::optional<uint64_t> read_uint(const std::filesystem::path& file);

// KEY=value from a device's `uevent` file (DRIVER, PCI_SLOT_NAME...); "" when absent.
std::string uevent_value(const std::filesystem::path& device_dir, const std::string& key);

// The kernel driver bound to a device ("amdgpu", "radeon", "i915"): the name
// the `driver` symlink points at, else DRIVER= in `uevent`; "" when unbound.
std::string kernel_driver(const std::filesystem::path& device_dir);

// The DRM cards under <sysfs_root>/class/drm (card0, card1...), sorted;
// not the connector entries (card0-DP-1) nor the render nodes (renderD128).
std::vector<std::filesystem::path> drm_cards(const std::filesystem::path& sysfs_root);

}  // namespace polaris::devices::sysfs
