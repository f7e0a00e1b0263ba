// SequenceScheduler: stateful models (`sequence_batching` in the config:
// RNNs, spiking networks, streaming VAD).
//
// A request names its sequence with the `sequence_id` parameter (a number
// or a string); the first request of a sequence sets `sequence_start`, the
// last `sequence_end`. A sequence is bound to one instance at its start
// (the one holding the fewest sequences) and its requests run there one at
// a time, in arrival order; different sequences run in parallel on
// different instances. When the model batches (max_batch_size > 1), the
// ready requests of different sequences bound to a free instance share
// one execution, oldest first, up to max_batch_size rows: their inputs and
// states are stacked along dim 0 and each gets its own rows back. With the
// strategy's max_queue_delay_microseconds a batch short of its size
// (`oldest`: the largest preferred_batch_size, else max_batch_size;
// `direct`: minimum_slot_utilization of max_batch_size, and no wait at all
// without it, as in Triton) waits up to that long after its oldest request
// for the other live sequences on its instance; when every live sequence
// there is already in the batch it goes at once. Without a delay nothing
// waits.
//
// Implicit state (Triton's semantics): for each `state { input_name,
// output_name }` the scheduler feeds the model's state input itself: at
// the sequence start the initial state (`initial_state` zero_data or
// data_file under <model>/initial_state/, zeros when none is given),
// afterwards the state output of the sequence's previous request. Clients
// neither send nor receive state tensors. Control inputs (START, END,
// READY, CORRID) are filled from the request's flags.
//
// With the oldest strategy's max_candidate_sequences, an instance holds at
// most that many live sequences; a sequence started beyond them waits in a
// backlog (its requests queued, its idle clock not running) and takes the
// slot of the first sequence to end or expire, as in Triton.
//
// A sequence idle (nothing queued or running) for max_sequence_idle_
// microseconds (default 1 s, as Triton) is dropped with its state; so is a
// sequence after its end request. A request for a sequence that does not
// exist without `sequence_start` is refused (400).
// Thread-safety: as ModelScheduler.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "runtime/scheduler_base.h"

namespace polaris {

class SequenceScheduler final : public SchedulerBase {
 public:
  static Result<std::unique_ptr<ModelScheduler>> create(std::vector<Model*> instances,
                                                        const inference::ModelConfig& config,
                                                        const std::string& model_dir, ModelStatistics& stats,
                                                        ExecutionPool& pool);
  ~SequenceScheduler() override;

  void submit(InferJob job) override;
  SchedulerStatus status() const override;

 private:
  struct StateSpec {
    std::string input, output;
    Tensor initial;  // without the batch dim when the model batches
  };
  struct ControlSpec {
    std::string input;
    inference::ModelSequenceBatching::Control::Kind kind;
    DataType dtype;
    double false_value = 0, true_value = 1;
  };
  struct Pending {
    InferJob job;
    SchedulerClock::time_point arrival;
  };
  // Sequence::instance of a sequence waiting for a candidate slot.
  static constexpr int kBacklog = -1;
  struct Sequence {
    int instance = kBacklog;  // the instance it is bound to
    NamedTensors state;  // by input name; empty before the first request ran
    std::deque<Pending> queue;
    bool running = false;
    SchedulerClock::time_point last_active;
  };

  // One sequence's request in an execution, with the state it starts from.
  struct Member {
    SequenceId id;
    Pending request;
    NamedTensors state;
  };
  using SequenceMap = std::map<SequenceId, Sequence>;

  SequenceScheduler(std::vector<Model*> instances, ModelStatistics& stats, ExecutionPool& pool);
  void on_wake_locked(SchedulerClock::time_point now) override;
  void dispatch_locked(SchedulerClock::time_point now);
  Member take_head_locked(SequenceMap::iterator it);
  void execute(int instance, std::vector<Member> members);
  // Runs the members' model inputs on one instance, stacked into one batch
  // when there are several; one result per member, in order.
  std::vector<Result<NamedTensors>> run_stacked(int instance, std::vector<NamedTensors> inputs,
                                                const std::vector<std::string>& wanted, ExecutionPhases& phases);
  Result<NamedTensors> model_inputs(const Pending& request, const SequenceId& id, const NamedTensors& state) const;
  void finish_member_locked(Member& m, Result<NamedTensors> outputs, const ExecutionPhases& phases);
  void fail_locked(Pending& p, Status status);
  // Binds a new sequence to the instance holding the fewest, or backlogs
  // it when every instance holds max_candidates_.
  void bind_locked(const SequenceId& id, Sequence& s);
  // A sequence bound to `instance` is gone: the oldest backlogged one
  // takes its slot.
  void release_locked(int instance);
  bool batched() const { return max_rows_ > 0; }  // tensors carry a batch dim

  std::vector<StateSpec> states_;
  std::vector<ControlSpec> controls_;
  std::vector<std::string> outputs_;  // the model's own outputs (state outputs excluded)
  int64_t max_rows_ = 0;              // rows one execution may stack (max_batch_size)
  int64_t target_rows_ = 0;           // a batch this size goes without waiting
  std::chrono::microseconds window_{0};  // how long a smaller batch may wait for more
  std::chrono::microseconds idle_timeout_{1000000};
  SequenceMap sequences_;                     // guarded by mu_
  std::vector<int> per_instance_;             // live sequences per instance; guarded by mu_
  // Candidate sequences an instance holds at most (oldest strategy's
  // max_candidate_sequences; 0: no limit); the rest wait, oldest first.
  int max_candidates_ = 0;
  std::deque<SequenceId> backlog_;            // guarded by mu_
  std::size_t queued_ = 0;                    // guarded by mu_
};

}  // namespace polaris
