#include "runtime/adaptive_batching.h"

#include <algorithm>
#include <cmath>

namespace polaris {
namespace {

constexpr double kWeight = 0.2;  // of the newest sample in each moving average

double blend(double mean, double sample) { return mean + kWeight * (sample - mean); }

}  // namespace

void EngineTimeModel::record(int batch_rows, std::chrono::nanoseconds engine_time) {
  const double us = static_cast<double>(engine_time.count()) / 1000.0;
  auto [it, inserted] = mean_us_.try_emplace(batch_rows, us);
  if (!inserted) it->second = blend(it->second, us);
}

std::optional<double> EngineTimeModel::estimate_us(int rows) const {
  if (mean_us_.empty()) return std::nullopt;
  if (auto it = mean_us_.find(rows); it != mean_us_.end()) return it->second;
  auto above = mean_us_.lower_bound(rows);
  if (above != mean_us_.end() && above != mean_us_.begin()) {  // between two measured sizes: interpolate
    const auto below = std::prev(above);
    const double f = static_cast<double>(rows - below->first) / static_cast<double>(above->first - below->first);
    return below->second + f * (above->second - below->second);
  }
  // Outside the measured sizes: the nearest one, scaled linearly in rows.
  const auto nearest = above == mean_us_.end() ? std::prev(above) : above;
  return nearest->second * static_cast<double>(rows) / static_cast<double>(nearest->first);
}

int EngineTimeModel::best_size(int cap) const {
  auto measured_upto = mean_us_.upper_bound(cap);
  if (measured_upto == mean_us_.begin()) return cap;  // nothing at or below cap measured yet
  auto best = mean_us_.begin();
  for (auto it = mean_us_.begin(); it != measured_upto; ++it)
    if (it->first / it->second > best->first / best->second) best = it;
  const int b = best->first;
  auto untried = [&](int size) { return size > 0 && size <= cap && !mean_us_.contains(size); };
  const auto upper = std::next(best);
  const int above = upper != measured_upto ? upper->first : cap;
  if (above > b && untried((b + above + 1) / 2)) return (b + above + 1) / 2;
  if (best != mean_us_.begin()) {
    const int below = std::prev(best)->first;
    if (untried((below + b) / 2)) return (below + b) / 2;
  }
  return b;
}

void ArrivalGaps::record(std::chrono::steady_clock::time_point arrival) {
  if (last_ != std::chrono::steady_clock::time_point{}) {
    const double gap = std::chrono::duration<double, std::micro>(arrival - last_).count();
    // A long idle spell is not a rate: cap it so one pause does not make
    // the next burst look slow for long.
    mean_gap_us_ = mean_gap_us_ >= 1e9 ? std::min(gap, 1e6) : blend(mean_gap_us_, std::min(gap, 1e6));
  }
  last_ = std::max(last_, arrival);
}

BatchDecision decide_adaptive(const AdaptiveInputs& in, const EngineTimeModel& engine, const ArrivalGaps& gaps) {
  BatchDecision run_all{true, std::min(in.rows_waiting, in.max_batch_size), {}};
  const auto single = engine.estimate_us(1);
  if (!single) return run_all;  // nothing measured yet: run and learn
  const double target_us = static_cast<double>(in.target.count());
  int cap = 1;
  for (int b = 2; b <= in.max_batch_size; ++b)
    if (2.0 * *engine.estimate_us(b) <= target_us) cap = b;
  const int bmax = engine.best_size(cap);
  if (in.rows_waiting >= bmax) return {true, bmax, {}};
  const double gap_us = gaps.typical_gap_us();
  if (gap_us >= *single) return run_all;
  using std::chrono::microseconds;
  const double window_us = std::max(0.0, target_us - 2.0 * *engine.estimate_us(bmax));
  const double quiet_us = std::clamp(2.0 * gap_us, 100.0, std::max(100.0, target_us / 4));
  const auto window_end = in.oldest_arrival + microseconds(static_cast<int64_t>(window_us));
  const auto quiet_end = gaps.last() + microseconds(static_cast<int64_t>(quiet_us));
  const auto deadline = std::min(window_end, quiet_end);
  if (in.now >= deadline) return run_all;
  return {false, bmax, deadline};
}

}  // namespace polaris
