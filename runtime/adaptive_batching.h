// Adaptive batching (Polaris extension, `polaris.latency_target_ms`): how
// large a batch to form and how long to wait for it, from measurements.
//
// The scheduler records every execution's engine time by batch size
// (EngineTimeModel) and every arrival (ArrivalGaps). At each decision:
//   1. cap: the largest batch whose engine time e(b) satisfies 2·e(b) <= T
//      (T the target: a request may wait for the batch running ahead of it
//      and then run in its own), at least 1; bmax: the size up to cap with
//      the best measured rows per second (EngineTimeModel::best_size, which
//      tries untried sizes by bisection);
//   2. enough rows for bmax are waiting: run bmax now;
//   3. arrivals are slower than one execution of a single request (the
//      typical gap g >= e(1)): waiting gains nothing, run what is there;
//   4. otherwise wait, but no longer than T - 2·e(bmax) after the oldest
//      request arrived, and no longer than a quiet spell of 2·g after the
//      latest arrival (the burst is over: nobody else is coming soon).
// Sizes never run are interpolated between the measured sizes around them,
// or, outside them, scaled linearly in rows from the nearest (pessimistic
// above: batching is usually cheaper per row). Everything
// is a moving average, so the choice follows load and engine speed.
// docs/scheduling.md has the reasoning and the measurements.
// Thread-safety: none; the scheduler holds its lock.
#pragma once

#include <chrono>
#include <map>
#include <optional>

namespace polaris {

class EngineTimeModel {
 public:
  void record(int batch_rows, std::chrono::nanoseconds engine_time);
  // Estimated engine time of a batch of `rows`, in microseconds; nullopt
  // until something was measured.
  std::optional<double> estimate_us(int rows) const;
  // The batch size to aim for, at most `cap`: the measured size with the
  // best rows per second, unless a size between it and a measured
  // neighbour (or `cap`) was never tried: then that one, once (bisection
  // towards the best size; on CPUs the best is often small).
  int best_size(int cap) const;

 private:
  std::map<int, double> mean_us_;  // exponential moving average per size
};

class ArrivalGaps {
 public:
  void record(std::chrono::steady_clock::time_point arrival);
  double typical_gap_us() const { return mean_gap_us_; }
  std::chrono::steady_clock::time_point last() const { return last_; }

 private:
  std::chrono::steady_clock::time_point last_{};
  double mean_gap_us_ = 1e9;  // no traffic seen: arrivals are "slow"
};

struct AdaptiveInputs {
  std::chrono::microseconds target{0};
  int max_batch_size = 1;
  int rows_waiting = 0;
  std::chrono::steady_clock::time_point oldest_arrival;
  std::chrono::steady_clock::time_point now;
};

struct BatchDecision {
  bool run_now = false;
  int max_rows = 1;  // rows to take when running
  std::chrono::steady_clock::time_point wait_until{};  // when not running now
};

BatchDecision decide_adaptive(const AdaptiveInputs& in, const EngineTimeModel& engine, const ArrivalGaps& gaps);

}  // namespace polaris
