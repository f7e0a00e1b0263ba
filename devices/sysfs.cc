#include "devices/sysfs.h"

#include <algorithm>
#include <charconv>
#include <fstream>

namespace polaris::devices::sysfs {

namespace fs = std::filesystem;

std::string read_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

std::optional<uint64_t> read_uint(const fs::path& file) {
  const std::string line = read_line(file);
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
  if (line.empty() || ec != std::errc() || end != line.data() + line.size()) return std::nullopt;
  return value;
}

std::string uevent_value(const fs::path& device_dir, const std::string& key) {
  std::ifstream in(device_dir / "uevent");
  const std::string prefix = key + "=";
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  return "";
}

std::string kernel_driver(const fs::path& device_dir) {
  std::error_code ec;
  const fs::path target = fs::read_symlink(device_dir / "driver", ec);
  if (!ec && !target.filename().empty()) return target.filename().string();
  return uevent_value(device_dir, "DRIVER");
}

std::vector<fs::path> drm_cards(const fs::path& sysfs_root) {
  std::vector<fs::path> cards;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(sysfs_root / "class/drm", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("card", 0) == 0 && name.find('-') == std::string::npos) cards.push_back(entry.path());
  }
  std::sort(cards.begin(), cards.end());
  return cards;
}

}  // namespace polaris::devices::sysfs
