// How the runtime treats one model beyond its config's engine settings:
// pinned (never evicted) and keep-alive (unloaded after this long idle).
//
// Both come from the server's defaults and can be set per model in
// config.pbtxt, as Polaris parameters:
//   parameters { key: "polaris.pinned"     value { string_value: "true" } }
//   parameters { key: "polaris.keep_alive" value { string_value: "10m" } }
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <string_view>

#include "core/status.h"
#include "proto/model_config.pb.h"

namespace polaris {

inline constexpr std::string_view kPinnedParameter = "polaris.pinned";
inline constexpr std::string_view kKeepAliveParameter = "polaris.keep_alive";

struct ModelPolicy {
  bool pinned = false;
  // Unload after this long without a request; zero: never.
  std::chrono::milliseconds keep_alive{0};
};

// "0" (never), "250ms", "30s", "5m", "1h", or a plain number of seconds, as
// Ollama's keep_alive; negative values are refused.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The policy of one model: `defaults`, overridden by its config parameters.
// InvalidArgument naming the parameter when a value does not parse.
Result<ModelPolicy> model_policy(const inference::ModelConfig& config, ModelPolicy defaults);

}  // namespace polaris
