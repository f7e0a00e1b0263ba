#include "runtime/batch_scheduler.h"

#include <algorithm>

#include <fmt/format.h>

#include "runtime/batching.h"

namespace polaris {
namespace {

// How many queued quick requests a thread that ran one inline also runs
// before it hands the instance back (BatchScheduler::execute): enough to
// save most pool hand-offs under load, few enough that the HTTP I/O
// thread's other connections wait at most a few quick executions.
constexpr int kMoreInline = 4;

constexpr auto kNever = SchedulerClock::time_point::max();

// Whether any request can get a deadline: without, expiring and arming
// timeouts is skipped (it scans every queued request).
bool timeouts_possible(const SchedulingPolicy& p) {
  auto can = [](const QueuePolicy& q) { return q.default_timeout.count() > 0 || q.allow_timeout_override; };
  if (can(p.default_queue)) return true;
  for (const auto& [level, q] : p.level_queue)
    if (can(q)) return true;
  return false;
}

}  // namespace

BatchScheduler::BatchScheduler(std::vector<Model*> instances, SchedulingPolicy policy, ModelStatistics& stats,
                               ExecutionPool& pool)
    : SchedulerBase(std::move(instances), stats, pool),
      policy_(std::move(policy)),
      deadlines_possible_(timeouts_possible(policy_)),
      levels_(policy_.levels()) {
  ordered_ = policy_.preserve_ordering;
}

BatchScheduler::~BatchScheduler() {
  {
    std::lock_guard lock(mu_);
    // Callers hold the model while their requests wait, so nothing should
    // be queued here; if something is, it gets an answer, not silence.
    for (auto* queue : {&delayed_}) {
      for (Pending& p : *queue) complete_locked(p, Unavailable("the model was unloaded"));
      queue->clear();
    }
    for (auto& queue : levels_) {
      for (Pending& p : queue) complete_locked(p, Unavailable("the model was unloaded"));
      queue.clear();
    }
    queued_ = 0;
  }
  run_deferred();
  shut_down();
}

void BatchScheduler::submit(InferJob job) {
  CallGuard call(*this);
  const auto now = SchedulerClock::now();
  uint64_t level = policy_.default_priority_level;
  if (job.options.priority != 0 && policy_.priority_levels > 0) {
    if (job.options.priority > policy_.priority_levels) {
      stats_.record_failure(std::chrono::nanoseconds(0));
      job.done(InvalidArgument(fmt::format("priority {} is outside the model's priority levels [1, {}]",
                                           job.options.priority, policy_.priority_levels)));
      return;
    }
    level = job.options.priority;
  }
  const QueuePolicy& queue_policy = policy_.queue_for(level);
  auto timeout = queue_policy.default_timeout;
  if (job.options.timeout.count() > 0 && queue_policy.allow_timeout_override)
    timeout = timeout.count() > 0 ? std::min(timeout, job.options.timeout) : job.options.timeout;

  const bool batching = policy_.max_batch_size > 0 && (policy_.dynamic_batching || policy_.latency_target.count() > 0);
  Pending p;
  p.arrival = now;
  p.deadline = timeout.count() > 0 ? now + timeout : kNever;
  p.rows = 1;
  if (policy_.max_batch_size > 0) {
    // Every input's first dim, not one input's: a request whose inputs
    // disagree would otherwise be cut into other requests' rows.
    Result<int64_t> rows = batch_rows(job.inputs);
    if (!rows.ok()) {
      stats_.record_failure(std::chrono::nanoseconds(0));
      job.done(rows.status());
      return;
    }
    p.rows = *rows;
  }
  if (batching) p.key = batch_key(job.inputs, job.outputs);
  p.delay_on_timeout = queue_policy.delay_on_timeout;
  int here = -1;  // the instance this thread runs the request on, if any
  {
    std::unique_lock lock(mu_);
    auto& queue = levels_[level - 1];
    if (queue_policy.max_queue_size > 0 && queue.size() >= queue_policy.max_queue_size) {
      lock.unlock();
      stats_.record_failure(std::chrono::nanoseconds(0));
      job.done(Unavailable("Exceeds maximum queue size"));
      return;
    }
    const bool inline_ok = job.allow_inline && p.key.empty() && queued_ == 0;
    p.job = std::move(job);
    p.ticket = next_ticket_++;
    arrivals_.record(now);
    if (inline_ok && (here = free_instance_locked()) >= 0) {
      claim_locked(here);
    } else {
      queue.push_back(std::move(p));
      ++queued_;
      dispatch_locked(now);
    }
  }
  if (here >= 0) {
    std::vector<Pending> one;
    one.push_back(std::move(p));
    execute(here, std::move(one), kMoreInline);  // calls finish_task, which also delivers
    return;
  }
  run_deferred();
}

SchedulerStatus BatchScheduler::status() const {
  std::lock_guard lock(mu_);
  return {queued_, static_cast<int>(instances_.size()), busy_count_locked(), 0};
}

void BatchScheduler::on_wake_locked(SchedulerClock::time_point now) { dispatch_locked(now); }

void BatchScheduler::dispatch_locked(SchedulerClock::time_point now) {
  if (deadlines_possible_) expire_locked(now);
  while (queued_ > 0) {
    const int instance = free_instance_locked();
    if (instance < 0) break;
    std::vector<Pending> batch = take_batch_locked(now);
    if (batch.empty()) break;
    queued_ -= batch.size();
    start_locked(instance, [this, instance, batch = std::move(batch)]() mutable {
      execute(instance, std::move(batch));
    });
  }
  if (!deadlines_possible_) return;
  auto next_timeout = kNever;
  for (const auto& queue : levels_)
    for (const Pending& p : queue) next_timeout = std::min(next_timeout, p.deadline);
  if (next_timeout != kNever) wake_at_locked(next_timeout);
}

void BatchScheduler::expire_locked(SchedulerClock::time_point now) {
  for (auto& queue : levels_) {
    for (auto it = queue.begin(); it != queue.end();) {
      if (it->deadline > now) {
        ++it;
        continue;
      }
      if (it->delay_on_timeout) {
        it->deadline = kNever;
        delayed_.push_back(std::move(*it));
      } else {
        stats_.record_failure(now - it->arrival);
        complete_locked(*it, Unavailable("Request timeout expired"));
        --queued_;
      }
      it = queue.erase(it);
    }
  }
}

std::vector<BatchScheduler::Pending> BatchScheduler::take_batch_locked(SchedulerClock::time_point now) {
  std::vector<std::deque<Pending>*> order;
  for (auto& queue : levels_) order.push_back(&queue);
  order.push_back(&delayed_);
  auto head_queue = std::find_if(order.begin(), order.end(), [](auto* q) { return !q->empty(); });
  if (head_queue == order.end()) return {};
  const Pending& head = (*head_queue)->front();

  auto take_head = [&] {
    std::vector<Pending> one;
    one.push_back(std::move((*head_queue)->front()));
    (*head_queue)->pop_front();
    return one;
  };
  const int64_t max_rows = policy_.max_batch_size;
  if (head.key.empty() || head.rows < 1 || head.rows > max_rows) return take_head();

  // Requests that can join the head, in service order.
  struct Candidate {
    std::deque<Pending>* queue;
    std::size_t index;
  };
  std::vector<Candidate> candidates;
  int64_t rows_waiting = 0;
  for (auto q = head_queue; q != order.end() && rows_waiting < max_rows; ++q) {
    for (std::size_t i = 0; i < (*q)->size() && rows_waiting < max_rows; ++i) {
      const Pending& p = (**q)[i];
      if (p.key != head.key || p.rows < 1 || rows_waiting + p.rows > max_rows) continue;
      candidates.push_back({*q, i});
      rows_waiting += p.rows;
    }
  }

  int64_t limit = 0;
  if (policy_.latency_target.count() > 0) {
    const BatchDecision d = decide_adaptive(
        {policy_.latency_target, policy_.max_batch_size, static_cast<int>(rows_waiting), head.arrival, now},
        engine_times_, arrivals_);
    if (!d.run_now) {
      wake_at_locked(d.wait_until);
      return {};
    }
    limit = d.max_rows;
  } else {
    const auto& preferred = policy_.preferred_batch_sizes;
    const int64_t enough = preferred.empty() ? max_rows : preferred.back();
    if (rows_waiting >= enough) {
      limit = enough;
    } else if (now >= head.arrival + policy_.max_queue_delay) {
      limit = rows_waiting;
      // The largest preferred size the waiting rows can fill, if any.
      for (int size : preferred)
        if (size <= rows_waiting) limit = size;
    } else {
      wake_at_locked(head.arrival + policy_.max_queue_delay);
      return {};
    }
  }

  std::vector<Pending> batch;
  std::map<std::deque<Pending>*, std::vector<std::size_t>> taken;
  int64_t rows = 0;
  for (const Candidate& c : candidates) {
    Pending& p = (*c.queue)[c.index];
    if (rows + p.rows > limit) break;
    rows += p.rows;
    batch.push_back(std::move(p));
    taken[c.queue].push_back(c.index);
  }
  for (auto& [queue, indices] : taken)
    for (auto i = indices.rbegin(); i != indices.rend(); ++i) queue->erase(queue->begin() + static_cast<std::ptrdiff_t>(*i));
  return batch;
}

void BatchScheduler::execute(int instance, std::vector<Pending> batch, int more_inline) {
  ExecutionPhases phases;
  phases.start = SchedulerClock::now();
  int64_t total_rows = 0;
  for (const Pending& p : batch) total_rows += p.rows;

  Result<NamedTensors> stacked = NamedTensors{};
  const NamedTensors* inputs = &batch.front().job.inputs;
  if (batch.size() > 1) {
    std::vector<const NamedTensors*> parts;
    for (const Pending& p : batch) parts.push_back(&p.job.inputs);
    stacked = stack_inputs(parts);
    inputs = stacked.ok() ? &*stacked : nullptr;
  }
  phases.inputs_ready = SchedulerClock::now();
  Result<NamedTensors> outputs = inputs != nullptr ? instances_[static_cast<std::size_t>(instance)]->run(
                                                         *inputs, batch.front().job.outputs)
                                                   : Result<NamedTensors>(stacked.status());
  phases.engine_done = SchedulerClock::now();
  const bool engine_ok = outputs.ok();

  std::vector<Result<NamedTensors>> answers;
  if (!engine_ok && batch.size() > 1) {
    // One request's values can fail a whole execution (an input the model
    // refuses): each request then runs alone, so only the culprit fails and
    // the others get their answers. Costs a second pass only on failure.
    for (const Pending& p : batch) {
      ExecutionPhases alone;
      alone.start = alone.inputs_ready = SchedulerClock::now();
      answers.push_back(instances_[static_cast<std::size_t>(instance)]->run(p.job.inputs, p.job.outputs));
      alone.engine_done = alone.outputs_ready = SchedulerClock::now();
      if (answers.back().ok())
        record_execution(stats_, alone, policy_.max_batch_size > 0 ? static_cast<uint64_t>(p.rows) : 1, 1);
    }
    phases.engine_done = SchedulerClock::now();
  } else {
    std::vector<int64_t> rows;
    rows.reserve(batch.size());
    for (const Pending& p : batch) rows.push_back(p.rows);
    answers = split_outputs(std::move(outputs), rows);
  }
  phases.outputs_ready = SchedulerClock::now();

  if (engine_ok)
    record_execution(stats_, phases,
                     policy_.max_batch_size > 0 ? static_cast<uint64_t>(std::max<int64_t>(total_rows, 1)) : 1,
                     batch.size());
  {
    std::lock_guard lock(mu_);
    if (engine_ok) engine_times_.record(static_cast<int>(total_rows), phases.engine_done - phases.inputs_ready);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (answers[i].ok())
        record_request(stats_, batch[i].arrival, phases);
      else
        stats_.record_failure(phases.outputs_ready - batch[i].arrival);
      complete_locked(batch[i], std::move(answers[i]));
    }
  }
  if (more_inline > 0) {
    std::optional<Pending> next;
    {
      std::lock_guard lock(mu_);
      next = take_inline_locked(SchedulerClock::now());
    }
    if (next) {
      run_deferred();  // this request's answer goes out before the next runs
      std::vector<Pending> one;
      one.push_back(std::move(*next));
      execute(instance, std::move(one), more_inline - 1);  // the instance stays claimed
      return;
    }
  }
  finish_task(instance);
}

std::optional<BatchScheduler::Pending> BatchScheduler::take_inline_locked(SchedulerClock::time_point now) {
  for (auto& queue : levels_) {
    if (queue.empty()) continue;
    Pending& head = queue.front();
    if (!head.job.allow_inline || !head.key.empty() || head.deadline <= now) return std::nullopt;
    std::optional<Pending> taken(std::move(head));
    queue.pop_front();
    --queued_;
    return taken;
  }
  return std::nullopt;
}

void BatchScheduler::complete_locked(Pending& p, Result<NamedTensors> result) {
  auto deliver = [done = std::move(p.job.done), result = std::move(result)]() mutable { done(std::move(result)); };
  if (!ordered_) {
    defer_locked(std::move(deliver));
    return;
  }
  held_.emplace(p.ticket, std::move(deliver));
  while (!held_.empty() && held_.begin()->first == next_delivery_) {
    defer_locked(std::move(held_.begin()->second));
    held_.erase(held_.begin());
    ++next_delivery_;
  }
}

}  // namespace polaris
