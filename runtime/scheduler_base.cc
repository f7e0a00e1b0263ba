#include "runtime/scheduler_base.h"

#include <algorithm>

namespace polaris {

SchedulerBase::SchedulerBase(std::vector<Model*> instances, ModelStatistics& stats, ExecutionPool& pool)
    : instances_(std::move(instances)), stats_(stats), pool_(pool), busy_(instances_.size(), false),
      timer_(pool.make_timer()) {}

void SchedulerBase::shut_down() {
  std::unique_lock lock(mu_);
  closing_ = true;
  timer_->cancel();
  idle_.wait(lock, [&] { return tasks_ == 0; });
}

int SchedulerBase::free_instance_locked() const {
  for (std::size_t i = 0; i < busy_.size(); ++i)
    if (!busy_[i]) return static_cast<int>(i);
  return -1;
}

int SchedulerBase::busy_count_locked() const {
  return static_cast<int>(std::count(busy_.begin(), busy_.end(), true));
}

void SchedulerBase::claim_locked(int index) {
  busy_[static_cast<std::size_t>(index)] = true;
  ++tasks_;
}

void SchedulerBase::start_locked(int index, std::function<void()> work) {
  claim_locked(index);
  pool_.post(std::move(work));
}

void SchedulerBase::finish_task(int index) {
  {
    std::lock_guard lock(mu_);
    if (index >= 0) busy_[static_cast<std::size_t>(index)] = false;
    if (!closing_) on_wake_locked(SchedulerClock::now());
  }
  run_deferred();
  std::lock_guard lock(mu_);
  --tasks_;  // last: the destructor may run once this is 0
  idle_.notify_all();
}

void SchedulerBase::run_deferred() {
  std::unique_lock lock(mu_);
  if (ordered_) {
    if (delivering_) return;
    delivering_ = true;
  }
  while (!deferred_.empty()) {
    std::vector<std::function<void()>> now;
    now.swap(deferred_);
    lock.unlock();
    for (auto& fn : now) fn();
    // The callbacks' captures go before the lock is taken again: they hold
    // requests' model handles, whose release takes the model manager's
    // lock, and ModelManager::status() takes that one before this one (a
    // lock-order inversion that deadlocked the server under load).
    now.clear();
    lock.lock();
  }
  if (ordered_) delivering_ = false;
}

void SchedulerBase::wake_at_locked(SchedulerClock::time_point when) {
  if (closing_ || when >= timer_at_) return;
  timer_at_ = when;
  timer_->expires_at(when);  // cancels a later wait: its handler sees operation_aborted
  ++tasks_;
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) {
      {
        std::lock_guard lock(mu_);
        timer_at_ = SchedulerClock::time_point::max();
        if (!closing_) on_wake_locked(SchedulerClock::now());
      }
      run_deferred();
    }
    std::lock_guard lock(mu_);
    --tasks_;
    idle_.notify_all();
  });
}

namespace {

// The compute phases of an execution, as Triton's statistics split them.
ExecutionTiming compute_timing(const ExecutionPhases& p) {
  ExecutionTiming t;
  t.compute_input = p.inputs_ready - p.start;
  t.compute_infer = p.engine_done - p.inputs_ready;
  t.compute_output = p.outputs_ready - p.engine_done;
  return t;
}

}  // namespace

void record_request(ModelStatistics& stats, SchedulerClock::time_point arrival, const ExecutionPhases& p) {
  ExecutionTiming t = compute_timing(p);
  t.queue = p.start - arrival;
  stats.record_request(t, p.outputs_ready - arrival);
}

void record_execution(ModelStatistics& stats, const ExecutionPhases& p, uint64_t batch_size, uint64_t requests) {
  ExecutionTiming t = compute_timing(p);
  t.batch_size = batch_size;
  t.requests = requests;
  stats.record_execution(t);
}

}  // namespace polaris
