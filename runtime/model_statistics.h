// Per-model-version request statistics, in the shape of the KServe/Triton
// statistics extension (docs/kserve-v2-protocol.md): counts and cumulative
// nanoseconds for successes, failures, queueing and the three compute
// phases, plus executions per batch size and a histogram of successful
// requests' total times (for percentiles: the dashboard's p50/p99).
//
// A model version keeps one ModelStatistics across unloads and reloads, so
// an eviction does not erase its history.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace polaris {

struct DurationStat {
  uint64_t count = 0;
  uint64_t ns = 0;
  void add(std::chrono::nanoseconds d) {
    ++count;
    ns += static_cast<uint64_t>(d.count());
  }
};

struct BatchStat {
  DurationStat compute_input, compute_infer, compute_output;
};

// Upper bounds of the request-latency histogram's buckets, microseconds:
// 10 us to 60 s in steps of 2^(1/4) (a percentile read from it is within
// 19% of the true one). One more bucket than bounds counts the rest.
inline constexpr std::size_t kLatencyBounds = 91;
const std::array<uint64_t, kLatencyBounds>& latency_bucket_bounds_us();

struct StatisticsSnapshot {
  uint64_t last_inference_ms = 0;  // Unix epoch milliseconds; 0: never
  uint64_t inference_count = 0;    // requests' batch elements that succeeded
  uint64_t execution_count = 0;    // engine executions
  DurationStat success, fail, queue, compute_input, compute_infer, compute_output;
  std::map<uint64_t, BatchStat> batch;  // by batch size
  // Successful requests by total time: latency_counts[i] within
  // latency_bucket_bounds_us()[i] (and above the bound before it); the
  // last entry, above every bound.
  std::array<uint64_t, kLatencyBounds + 1> latency_counts{};
};

// Phases of one successful execution that served `requests` requests
// with `batch_size` elements in all.
struct ExecutionTiming {
  uint64_t batch_size = 1;
  uint64_t requests = 1;
  std::chrono::nanoseconds queue{0}, compute_input{0}, compute_infer{0}, compute_output{0};
};

class ModelStatistics {
 public:
  // One engine execution (a batch of timing.batch_size elements, from
  // timing.requests requests): execution and inference counts, batch stats.
  void record_execution(const ExecutionTiming& timing);
  // One request that succeeded: its queue time, its execution's phases and
  // its total time.
  void record_request(const ExecutionTiming& timing, std::chrono::nanoseconds request_total);
  // Both, for an execution that served exactly one request.
  void record_success(const ExecutionTiming& timing, std::chrono::nanoseconds request_total) {
    record_execution(timing);
    record_request(timing, request_total);
  }
  void record_failure(std::chrono::nanoseconds request_total);
  StatisticsSnapshot snapshot() const;

 private:
  mutable std::mutex mu_;
  StatisticsSnapshot stats_;  // guarded by mu_
};

// One entry of the extension's "model_stats" array.
nlohmann::json statistics_to_json(const std::string& model_name, const std::string& version,
                                  const StatisticsSnapshot& stats);

}  // namespace polaris
