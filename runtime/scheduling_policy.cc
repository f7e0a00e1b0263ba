#include "runtime/scheduling_policy.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace polaris {
namespace {

QueuePolicy queue_policy_from(const inference::ModelQueuePolicy& p) {
  QueuePolicy q;
  q.delay_on_timeout = p.timeout_action() == inference::ModelQueuePolicy::DELAY;
  q.default_timeout = std::chrono::microseconds(p.default_timeout_microseconds());
  q.allow_timeout_override = p.allow_timeout_override();
  q.max_queue_size = p.max_queue_size();
  return q;
}

}  // namespace

const QueuePolicy& SchedulingPolicy::queue_for(uint64_t level) const {
  auto it = level_queue.find(level);
  return it == level_queue.end() ? default_queue : it->second;
}

Result<SchedulingPolicy> scheduling_policy_from_config(const inference::ModelConfig& config) {
  SchedulingPolicy p;
  p.max_batch_size = config.max_batch_size();
  if (config.has_dynamic_batching()) {
    const auto& d = config.dynamic_batching();
    p.dynamic_batching = true;
    for (int size : d.preferred_batch_size()) {
      if (size < 1 || size > p.max_batch_size)
        return InvalidArgument(fmt::format("dynamic_batching preferred_batch_size {} must be in [1, max_batch_size {}]",
                                           size, p.max_batch_size));
      p.preferred_batch_sizes.push_back(size);
    }
    std::sort(p.preferred_batch_sizes.begin(), p.preferred_batch_sizes.end());
    p.max_queue_delay = std::chrono::microseconds(d.max_queue_delay_microseconds());
    p.preserve_ordering = d.preserve_ordering();
    p.priority_levels = d.priority_levels();
    p.default_priority_level = d.default_priority_level();
    if (p.priority_levels > 0 && (p.default_priority_level < 1 || p.default_priority_level > p.priority_levels))
      return InvalidArgument(fmt::format("dynamic_batching default_priority_level {} must be in [1, priority_levels {}]",
                                         p.default_priority_level, p.priority_levels));
    if (p.priority_levels == 0) p.default_priority_level = 1;
    p.default_queue = queue_policy_from(d.default_queue_policy());
    for (const auto& [level, policy] : d.priority_queue_policy()) {
      if (level < 1 || level > p.levels())
        return InvalidArgument(fmt::format("dynamic_batching priority_queue_policy names level {}, outside [1, {}]",
                                           level, p.levels()));
      p.level_queue[level] = queue_policy_from(policy);
    }
  } else {
    p.default_priority_level = 1;
  }
  if (auto it = config.parameters().find("polaris.latency_target_ms"); it != config.parameters().end()) {
    const std::string& text = it->second.string_value();
    double ms = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc() || end != text.data() + text.size() || !(ms > 0) || ms > 3.6e6)
      return InvalidArgument("polaris.latency_target_ms must be a positive number of milliseconds, not '" + text + "'");
    if (p.max_batch_size < 1)
      return InvalidArgument("polaris.latency_target_ms (adaptive batching) needs max_batch_size >= 1");
    if (config.has_sequence_batching())
      return InvalidArgument("polaris.latency_target_ms (adaptive batching) does not apply to sequence models");
    p.latency_target = std::chrono::microseconds(static_cast<int64_t>(ms * 1000.0));
  }
  return p;
}

}  // namespace polaris
