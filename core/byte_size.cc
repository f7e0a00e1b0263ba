#include "core/byte_size.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

namespace polaris {

Result<uint64_t> parse_byte_size(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string number(text.substr(0, i));
  std::string unit(text.substr(i));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || ptr != number.data() + number.size())
    return InvalidArgument("'" + std::string(text) + "' is not a size (e.g. 6GiB, 512MiB, 1.5G)");
  static const std::vector<std::pair<std::string, double>> kUnits = {
      {"", 1},          {"b", 1},           {"k", 1024.0},        {"kib", 1024.0},      {"m", 1048576.0},
      {"mib", 1048576.0}, {"g", 1073741824.0}, {"gib", 1073741824.0}, {"t", 1099511627776.0},
      {"tib", 1099511627776.0}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}};
  for (const auto& [name, scale] : kUnits)
    if (unit == name) {
      const double bytes = value * scale;
      if (!std::isfinite(bytes) || bytes >= 18e18) return InvalidArgument("size '" + std::string(text) + "' is too large");
      return static_cast<uint64_t>(bytes);
    }
  return InvalidArgument("unknown size unit in '" + std::string(text) + "' (use B, KiB, MiB, GiB, TiB, KB, MB, GB)");
}

std::string format_byte_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) value /= 1024, ++unit;
  char text[32];
  if (unit == 0)
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

}  // namespace polaris
