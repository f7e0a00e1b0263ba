#include "runtime/model_statistics.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace polaris {

const std::array<uint64_t, kLatencyBounds>& latency_bucket_bounds_us() {
  static const std::array<uint64_t, kLatencyBounds> bounds = [] {
    std::array<uint64_t, kLatencyBounds> b{};
    for (std::size_t i = 0; i < b.size(); ++i)
      b[i] = static_cast<uint64_t>(std::llround(10.0 * std::pow(2.0, static_cast<double>(i) / 4.0)));
    return b;
  }();
  return bounds;
}

namespace {

std::size_t latency_bucket(std::chrono::nanoseconds d) {
  const auto& bounds = latency_bucket_bounds_us();
  const auto us = static_cast<uint64_t>(std::max<int64_t>(0, d.count()) / 1000);
  // The first bound at or above the time: a bucket holds (previous, bound].
  return static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), us) - bounds.begin());
}

}  // namespace

void ModelStatistics::record_execution(const ExecutionTiming& timing) {
  std::lock_guard lock(mu_);
  stats_.inference_count += timing.batch_size;
  stats_.execution_count += 1;
  BatchStat& batch = stats_.batch[timing.batch_size];
  batch.compute_input.add(timing.compute_input);
  batch.compute_infer.add(timing.compute_infer);
  batch.compute_output.add(timing.compute_output);
}

void ModelStatistics::record_request(const ExecutionTiming& timing, std::chrono::nanoseconds request_total) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  std::lock_guard lock(mu_);
  stats_.last_inference_ms = static_cast<uint64_t>(now.count());
  stats_.success.add(request_total);
  ++stats_.latency_counts[latency_bucket(request_total)];
  stats_.queue.add(timing.queue);
  stats_.compute_input.add(timing.compute_input);
  stats_.compute_infer.add(timing.compute_infer);
  stats_.compute_output.add(timing.compute_output);
}

void ModelStatistics::record_failure(std::chrono::nanoseconds request_total) {
  std::lock_guard lock(mu_);
  stats_.fail.add(request_total);
}

StatisticsSnapshot ModelStatistics::snapshot() const {
  std::lock_guard lock(mu_);
  return stats_;
}

namespace {

nlohmann::json duration_json(const DurationStat& d) { return {{"count", d.count}, {"ns", d.ns}}; }

}  // namespace

nlohmann::json statistics_to_json(const std::string& model_name, const std::string& version,
                                  const StatisticsSnapshot& stats) {
  nlohmann::json batch = nlohmann::json::array();
  for (const auto& [size, b] : stats.batch)
    batch.push_back({{"batch_size", size},
                     {"compute_input", duration_json(b.compute_input)},
                     {"compute_infer", duration_json(b.compute_infer)},
                     {"compute_output", duration_json(b.compute_output)}});
  return {{"name", model_name},
          {"version", version},
          {"last_inference", stats.last_inference_ms},
          {"inference_count", stats.inference_count},
          {"execution_count", stats.execution_count},
          {"inference_stats",
           {{"success", duration_json(stats.success)},
            {"fail", duration_json(stats.fail)},
            {"queue", duration_json(stats.queue)},
            {"compute_input", duration_json(stats.compute_input)},
            {"compute_infer", duration_json(stats.compute_infer)},
            {"compute_output", duration_json(stats.compute_output)},
            {"cache_hit", duration_json({})},
            {"cache_miss", duration_json({})}}},
          {"batch_stats", std::move(batch)}};
}

}  // namespace polaris
