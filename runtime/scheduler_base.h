// What both schedulers share: the instances and which are busy, the
// count of tasks posted to the pool (the destructor waits for them), and
// one timer for the next time something must happen (a batching window
// closing, a queued request's timeout, an idle sequence's expiry).
// Thread-safety: every member is used under mu_ (see each comment).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "runtime/model_scheduler.h"

namespace polaris {

using SchedulerClock = std::chrono::steady_clock;

class SchedulerBase : public ModelScheduler {
 protected:
  SchedulerBase(std::vector<Model*> instances, ModelStatistics& stats, ExecutionPool& pool);
  // Derived destructors call this first: cancels the timer and waits for
  // posted work to finish.
  void shut_down();

  // A submit() in progress counts as a task, so the destructor waits for it:
  // the last request it answers may release the model, and an unload may
  // then destroy this scheduler on another thread.
  struct CallGuard {
    explicit CallGuard(SchedulerBase& s) : s_(s) {
      std::lock_guard lock(s_.mu_);
      ++s_.tasks_;
    }
    ~CallGuard() {
      std::lock_guard lock(s_.mu_);
      --s_.tasks_;
      s_.idle_.notify_all();
    }
    SchedulerBase& s_;
  };

  // Under mu_: the first free instance, or -1.
  int free_instance_locked() const;
  bool busy_locked(int index) const { return busy_[static_cast<std::size_t>(index)]; }
  int busy_count_locked() const;
  // Under mu_: marks instance `index` busy for a task that will call
  // finish_task() when done.
  void claim_locked(int index);
  // Under mu_: claim_locked, then runs `work` on the pool.
  void start_locked(int index, std::function<void()> work);
  // Marks the instance free (index >= 0) and the task done, then calls
  // on_wake() under the lock.
  void finish_task(int index);
  // Under mu_: makes the timer fire at `when` unless it fires earlier.
  void wake_at_locked(SchedulerClock::time_point when);
  // Under mu_: what the scheduler does when woken (timer, freed instance).
  virtual void on_wake_locked(SchedulerClock::time_point now) = 0;
  // Under mu_: `fn` (a request's `done`) runs after the lock is released,
  // in the order given when `ordered_`.
  void defer_locked(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }
  // Not under mu_: runs what was deferred. With `ordered_` one thread at a
  // time does it (a second caller leaves its items to the first, which
  // loops until none are left), so callbacks keep their order.
  void run_deferred();

  std::vector<Model*> instances_;
  ModelStatistics& stats_;
  ExecutionPool& pool_;
  bool ordered_ = false;  // preserve_ordering
  mutable std::mutex mu_;

 private:
  std::vector<bool> busy_;  // guarded by mu_
  int tasks_ = 0;           // posted and not finished; guarded by mu_
  std::condition_variable idle_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  SchedulerClock::time_point timer_at_ = SchedulerClock::time_point::max();  // guarded by mu_
  bool closing_ = false;  // guarded by mu_
  std::vector<std::function<void()>> deferred_;  // guarded by mu_
  bool delivering_ = false;                      // guarded by mu_
};

// Triton's statistics for one request served by an execution.
struct ExecutionPhases {
  SchedulerClock::time_point start, inputs_ready, engine_done, outputs_ready;
};
void record_request(ModelStatistics& stats, SchedulerClock::time_point arrival, const ExecutionPhases& phases);
// Triton's statistics for one successful engine execution of `batch_size`
// rows serving `requests` requests.
void record_execution(ModelStatistics& stats, const ExecutionPhases& phases, uint64_t batch_size,
                      uint64_t requests);

}  // namespace polaris
