#include "runtime/model_policy.h"

#include <charconv>
#include <string>

namespace polaris {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const auto bad = [&] {
    return InvalidArgument("'" + std::string(text) + "' is not a duration (examples: 0, 250ms, 30s, 5m, 1h)");
  };
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0 || value > 1e9) return bad();
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  double ms_per_unit = 0;
  if (unit.empty() || unit == "s")
    ms_per_unit = 1000;
  else if (unit == "ms")
    ms_per_unit = 1;
  else if (unit == "m")
    ms_per_unit = 60'000;
  else if (unit == "h")
    ms_per_unit = 3'600'000;
  else
    return bad();
  return std::chrono::milliseconds(static_cast<int64_t>(value * ms_per_unit));
}

Result<ModelPolicy> model_policy(const inference::ModelConfig& config, ModelPolicy defaults) {
  ModelPolicy policy = defaults;
  const auto& parameters = config.parameters();
  if (auto it = parameters.find(std::string(kPinnedParameter)); it != parameters.end()) {
    const std::string& v = it->second.string_value();
    if (v == "true" || v == "1")
      policy.pinned = true;
    else if (v == "false" || v == "0")
      policy.pinned = false;
    else
      return InvalidArgument("parameter " + std::string(kPinnedParameter) + " must be true or false, not '" + v + "'");
  }
  if (auto it = parameters.find(std::string(kKeepAliveParameter)); it != parameters.end()) {
    auto keep_alive = parse_duration(it->second.string_value());
    if (!keep_alive.ok())
      return InvalidArgument("parameter " + std::string(kKeepAliveParameter) + ": " + keep_alive.status().message());
    policy.keep_alive = *keep_alive;
  }
  return policy;
}

}  // namespace polaris
