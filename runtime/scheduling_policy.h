// How a model's requests are scheduled, read once from its config:
// Triton's dynamic_batching (preferred sizes, queue delay, ordering,
// priority levels, queue policies) plus Polaris's adaptive batching
// (`parameters { key: "polaris.latency_target_ms" ... }`), and the
// per-request options (priority, timeout, sequence) read from a request's
// parameters. docs/scheduling.md describes the behaviour.
// Thread-safety: value types and pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <string>
#include <vector>

#include "core/status.h"
#include "proto/model_config.pb.h"

namespace polaris {

struct QueuePolicy {
  bool delay_on_timeout = false;  // DELAY: keep the request, after the others; REJECT: fail it
  std::chrono::microseconds default_timeout{0};  // 0: none
  bool allow_timeout_override = false;
  uint32_t max_queue_size = 0;  // 0: unbounded
};

struct SchedulingPolicy {
  int max_batch_size = 0;     // 0: the model does not batch
  bool dynamic_batching = false;
  std::vector<int> preferred_batch_sizes;  // ascending
  std::chrono::microseconds max_queue_delay{0};
  bool preserve_ordering = false;
  uint64_t priority_levels = 0;         // 0: no priorities (one level)
  uint64_t default_priority_level = 0;  // 1 = highest
  QueuePolicy default_queue;
  std::map<uint64_t, QueuePolicy> level_queue;  // overrides by level
  // Adaptive batching: a p99 latency target; 0: off.
  std::chrono::microseconds latency_target{0};

  const QueuePolicy& queue_for(uint64_t level) const;
  uint64_t levels() const { return priority_levels == 0 ? 1 : priority_levels; }
};

// InvalidArgument for contradictions (a default level outside the levels,
// preferred sizes above max_batch_size, a malformed latency target, adaptive
// batching without max_batch_size).
Result<SchedulingPolicy> scheduling_policy_from_config(const inference::ModelConfig& config);

// A sequence's identity as a request carries it: a number or a string (the
// protocol allows both; 7 and "7" are different sequences, as in Triton).
struct SequenceId {
  std::string value;  // empty: no sequence
  bool is_string = false;
  bool empty() const { return value.empty(); }
  bool operator<(const SequenceId& o) const { return std::tie(is_string, value) < std::tie(o.is_string, o.value); }
  bool operator==(const SequenceId& o) const = default;
  std::string to_string() const { return is_string ? "'" + value + "'" : value; }
};

// What a request asks of the scheduler (KServe request parameters
// "priority", "timeout" in microseconds, "sequence_id", "sequence_start",
// "sequence_end").
struct RequestOptions {
  uint64_t priority = 0;  // 0: the model's default level
  std::chrono::microseconds timeout{0};  // 0: the queue policy's default
  SequenceId sequence;
  bool sequence_start = false;
  bool sequence_end = false;
};

}  // namespace polaris
