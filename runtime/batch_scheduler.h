// BatchScheduler: the scheduler of stateless models.
//
// Requests wait in one FIFO queue per priority level (1 is served first),
// then a queue of requests whose timeout passed under a DELAY policy. When
// an instance is free the head request is taken with the requests that can
// share its batch (same inputs and dims after dim 0, same outputs; see
// batching.h), in queue order, up to a size decided by:
//   - no dynamic_batching: the head alone (Triton's default scheduler);
//   - dynamic_batching: at once when the largest preferred size (or
//     max_batch_size) is reached; else when the head has waited
//     max_queue_delay, the largest preferred size available (or all);
//   - adaptive batching: decide_adaptive (adaptive_batching.h).
// Queue policies: max_queue_size rejects at once (503 "Exceeds maximum
// queue size"); a request's timeout (the policy default, or the request's
// own when allow_timeout_override) rejects it (503 "Request timeout
// expired") or, under DELAY, moves it behind every other request.
// preserve_ordering delivers responses in arrival order.
// Thread-safety: as ModelScheduler.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "runtime/adaptive_batching.h"
#include "runtime/scheduler_base.h"

namespace polaris {

class BatchScheduler final : public SchedulerBase {
 public:
  BatchScheduler(std::vector<Model*> instances, SchedulingPolicy policy, ModelStatistics& stats,
                 ExecutionPool& pool);
  ~BatchScheduler() override;

  void submit(InferJob job) override;
  SchedulerStatus status() const override;

 private:
  struct Pending {
    InferJob job;
    SchedulerClock::time_point arrival;
    SchedulerClock::time_point deadline;  // max(): no timeout
    uint64_t ticket = 0;                  // arrival order, for preserve_ordering
    std::string key;                      // batch_key
    int64_t rows = 1;
    bool delay_on_timeout = false;
  };

  void on_wake_locked(SchedulerClock::time_point now) override;
  // Under mu_: timeouts first, then as many batches as instances are free.
  void dispatch_locked(SchedulerClock::time_point now);
  void expire_locked(SchedulerClock::time_point now);
  // Under mu_: the batch to run now (empty: none, maybe a wake-up armed).
  std::vector<Pending> take_batch_locked(SchedulerClock::time_point now);
  // Runs `batch` on `instance` and answers it. `more_inline` > 0: the
  // caller is a thread running a quick request inline (the HTTP I/O
  // thread); it then also runs up to that many requests that queued for
  // this instance meanwhile and could have run inline too, instead of
  // handing each to the pool and back (two thread wake-ups each).
  void execute(int instance, std::vector<Pending> batch, int more_inline = 0);
  // Under mu_: the oldest queued request that may run inline on this
  // thread now (front of the highest non-empty priority level, not
  // batching, not past its deadline), taken off the queue; nullopt if none.
  std::optional<Pending> take_inline_locked(SchedulerClock::time_point now);
  // Under mu_: hands `result` to the request, in ticket order when ordered.
  void complete_locked(Pending& p, Result<NamedTensors> result);

  const SchedulingPolicy policy_;
  const bool deadlines_possible_;  // some queue policy sets or allows timeouts
  std::vector<std::deque<Pending>> levels_;  // [level - 1]; guarded by mu_
  std::deque<Pending> delayed_;              // timed out under DELAY; guarded by mu_
  std::size_t queued_ = 0;                   // guarded by mu_
  uint64_t next_ticket_ = 0;                 // guarded by mu_
  uint64_t next_delivery_ = 0;               // preserve_ordering; guarded by mu_
  std::map<uint64_t, std::function<void()>> held_;  // finished early, waiting their turn; guarded by mu_
  EngineTimeModel engine_times_;  // guarded by mu_
  ArrivalGaps arrivals_;          // guarded by mu_
};

}  // namespace polaris
