#include "runtime/sequence_scheduler.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "runtime/batching.h"
#include "runtime/model_config.h"

namespace polaris {
namespace {

using Control = inference::ModelSequenceBatching::Control;
constexpr std::chrono::microseconds kDefaultIdle{1000000};  // Triton's default
// An initial-state file larger than this is refused: states are small.
constexpr std::size_t kMaxInitialStateBytes = std::size_t{256} << 20;

Result<Tensor> initial_state(const inference::ModelSequenceBatching::State& s, const std::string& model_dir) {
  const DataType dtype = from_config_data_type(s.data_type());
  if (!is_fixed_size(dtype))
    return InvalidArgument(fmt::format("state '{}': only fixed-size types can be implicit state", s.input_name()));
  const Shape shape(std::vector<int64_t>(s.dims().begin(), s.dims().end()));
  POLARIS_RETURN_IF_ERROR(shape.validate_concrete());
  POLARIS_ASSIGN_OR_RETURN(std::size_t bytes, shape.byte_size(dtype));
  if (bytes > kMaxInitialStateBytes)
    return InvalidArgument(fmt::format("state '{}' of {} would take {} bytes; implicit state is limited to {}",
                                       s.input_name(), shape.to_string(), bytes, kMaxInitialStateBytes));
  POLARIS_ASSIGN_OR_RETURN(Tensor zeros, Tensor::allocate(dtype, shape));
  if (s.initial_state_size() == 0 || s.initial_state(0).has_zero_data()) return zeros;
  const auto& init = s.initial_state(0);
  if (init.data_file().empty()) return zeros;
  const std::filesystem::path file = init.data_file();
  if (file.is_absolute() || file.has_parent_path() || file.filename() == "..")
    return InvalidArgument("initial_state data_file must be a plain file name under initial_state/, not '" +
                           init.data_file() + "'");
  const auto path = std::filesystem::path(model_dir) / "initial_state" / file;
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("initial state file " + path.string() + " cannot be read");
  std::string data(bytes + 1, '\0');  // one more: a longer file is an error too
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (static_cast<std::size_t>(in.gcount()) != bytes)
    return InvalidArgument(fmt::format("initial state file {} must hold exactly {} bytes ({} of {})", path.string(),
                                       zeros.byte_size(), shape.to_string(), to_string(dtype)));
  return Tensor::copy_of(dtype, shape, data.data(), bytes);
}

// A batched request's rows, checked at submit(); 1 for unbatched models,
// whose inputs need not share a first dim.
int64_t rows_of(const NamedTensors& inputs) {
  const Result<int64_t> rows = batch_rows(inputs);
  return rows.ok() ? std::max<int64_t>(*rows, 1) : 1;
}

// `rows` copies of `t` stacked along a new first dim.
Result<Tensor> repeat_rows(const Tensor& t, int64_t rows) {
  std::vector<int64_t> dims{rows};
  dims.insert(dims.end(), t.shape().dims().begin(), t.shape().dims().end());
  POLARIS_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(t.dtype(), Shape(std::move(dims))));
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(out.mutable_bytes().data() + static_cast<std::size_t>(r) * t.byte_size(), t.data(), t.byte_size());
  return out;
}

template <typename T>
Result<Tensor> filled(const Shape& shape, T value) {
  POLARIS_ASSIGN_OR_RETURN(int64_t n, shape.element_count());
  return Tensor::from_values<T>(shape, std::vector<T>(static_cast<std::size_t>(n), value));
}

}  // namespace

SequenceScheduler::SequenceScheduler(std::vector<Model*> instances, ModelStatistics& stats, ExecutionPool& pool)
    : SchedulerBase(std::move(instances), stats, pool), per_instance_(instances_.size(), 0) {}

Result<std::unique_ptr<ModelScheduler>> SequenceScheduler::create(std::vector<Model*> instances,
                                                                  const inference::ModelConfig& config,
                                                                  const std::string& model_dir,
                                                                  ModelStatistics& stats, ExecutionPool& pool) {
  const auto& seq = config.sequence_batching();
  const ModelMetadata& model = instances.front()->metadata();
  std::unique_ptr<SequenceScheduler> s(new SequenceScheduler(std::move(instances), stats, pool));
  s->max_rows_ = config.max_batch_size();
  s->target_rows_ = s->max_rows_;
  if (seq.has_oldest()) {
    s->window_ = std::chrono::microseconds(seq.oldest().max_queue_delay_microseconds());
    const int64_t largest = std::max(s->max_rows_, int64_t{1});
    for (int preferred : seq.oldest().preferred_batch_size())
      if (preferred < 1 || preferred > largest)
        return InvalidArgument(fmt::format("sequence_batching oldest preferred_batch_size {} must be in [1, {}]",
                                           preferred, largest));
    if (seq.oldest().preferred_batch_size_size() > 0)
      s->target_rows_ = *std::max_element(seq.oldest().preferred_batch_size().begin(),
                                          seq.oldest().preferred_batch_size().end());
  } else if (seq.has_direct()) {
    // Triton: the delay counts only with a minimum slot utilization; the
    // batch goes once that share of max_batch_size is ready.
    const float share = seq.direct().minimum_slot_utilization();
    if (share < 0 || share > 1)
      return InvalidArgument(fmt::format("sequence_batching direct minimum_slot_utilization {} must be in [0, 1]",
                                         share));
    if (share > 0) {
      s->window_ = std::chrono::microseconds(seq.direct().max_queue_delay_microseconds());
      s->target_rows_ = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(share * static_cast<float>(s->max_rows_))));
    }
  }
  if (seq.has_oldest()) {
    if (seq.oldest().max_candidate_sequences() < 0)
      return InvalidArgument("sequence_batching oldest max_candidate_sequences must be >= 0");
    s->max_candidates_ = seq.oldest().max_candidate_sequences();
  }
  if (seq.max_sequence_idle_microseconds() > 0)
    s->idle_timeout_ = std::chrono::microseconds(seq.max_sequence_idle_microseconds());
  else
    s->idle_timeout_ = kDefaultIdle;
  for (const auto& state : seq.state()) {
    if (model.find_input(state.input_name()) == nullptr)
      return InvalidArgument(fmt::format("sequence_batching state input '{}' is not an input of the model",
                                         state.input_name()));
    if (model.find_output(state.output_name()) == nullptr)
      return InvalidArgument(fmt::format("sequence_batching state output '{}' is not an output of the model",
                                         state.output_name()));
    POLARIS_ASSIGN_OR_RETURN(Tensor initial, initial_state(state, model_dir));
    s->states_.push_back({state.input_name(), state.output_name(), std::move(initial)});
  }
  for (const auto& input : seq.control_input()) {
    if (model.find_input(input.name()) == nullptr)
      return InvalidArgument(fmt::format("sequence_batching control input '{}' is not an input of the model",
                                         input.name()));
    for (const auto& c : input.control()) {
      ControlSpec spec{input.name(), c.kind(), DataType::kInvalid};
      if (c.int32_false_true_size() == 2) {
        spec.dtype = DataType::kInt32;
        spec.false_value = c.int32_false_true(0);
        spec.true_value = c.int32_false_true(1);
      } else if (c.fp32_false_true_size() == 2) {
        spec.dtype = DataType::kFp32;
        spec.false_value = c.fp32_false_true(0);
        spec.true_value = c.fp32_false_true(1);
      } else if (c.bool_false_true_size() == 2) {
        spec.dtype = DataType::kBool;
        spec.false_value = c.bool_false_true(0);
        spec.true_value = c.bool_false_true(1);
      } else if (c.kind() == Control::CONTROL_SEQUENCE_CORRID) {
        spec.dtype = from_config_data_type(c.data_type());
        if (spec.dtype != DataType::kInt64 && spec.dtype != DataType::kUint64 && spec.dtype != DataType::kInt32 &&
            spec.dtype != DataType::kUint32 && spec.dtype != DataType::kBytes)
          return InvalidArgument("CONTROL_SEQUENCE_CORRID needs data_type TYPE_UINT64, TYPE_INT64, TYPE_UINT32, "
                                 "TYPE_INT32 or TYPE_STRING");
      } else {
        return InvalidArgument(fmt::format("control input '{}' needs two values in int32_false_true, "
                                           "fp32_false_true or bool_false_true",
                                           input.name()));
      }
      s->controls_.push_back(spec);
    }
  }
  for (const auto& out : config.output()) s->outputs_.push_back(out.name());
  return std::unique_ptr<ModelScheduler>(std::move(s));
}

SequenceScheduler::~SequenceScheduler() {
  {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : sequences_)
      for (Pending& p : s.queue) fail_locked(p, Unavailable("the model was unloaded"));
    sequences_.clear();
  }
  run_deferred();
  shut_down();
}

void SequenceScheduler::fail_locked(Pending& p, Status status) {
  stats_.record_failure(SchedulerClock::now() - p.arrival);
  defer_locked([done = std::move(p.job.done), status = std::move(status)]() { done(status); });
}

void SequenceScheduler::submit(InferJob job) {
  CallGuard call(*this);
  const auto now = SchedulerClock::now();
  const SequenceId id = job.options.sequence;
  if (id.empty()) {
    stats_.record_failure(std::chrono::nanoseconds(0));
    job.done(InvalidArgument("this is a sequence model: every request needs a sequence_id parameter "
                             "(and sequence_start on a sequence's first request)"));
    return;
  }
  if (batched()) {
    // Rows are read from every input once here; dispatch then relies on it.
    if (Result<int64_t> rows = batch_rows(job.inputs); !rows.ok()) {
      stats_.record_failure(std::chrono::nanoseconds(0));
      job.done(rows.status());
      return;
    }
  }
  {
    std::unique_lock lock(mu_);
    auto it = sequences_.find(id);
    if (it == sequences_.end()) {
      if (!job.options.sequence_start) {
        lock.unlock();
        stats_.record_failure(std::chrono::nanoseconds(0));
        job.done(InvalidArgument(fmt::format(
            "inference request for sequence {} must specify the START flag on the first request of the sequence "
            "(a sequence idle for more than {} us, or after its END request, is gone)",
            id.to_string(), idle_timeout_.count())));
        return;
      }
      it = sequences_.emplace(id, Sequence{}).first;
      bind_locked(id, it->second);
    }
    it->second.queue.push_back({std::move(job), now});
    it->second.last_active = now;
    ++queued_;
    dispatch_locked(now);
  }
  run_deferred();
}

SchedulerStatus SequenceScheduler::status() const {
  std::lock_guard lock(mu_);
  return {queued_, static_cast<int>(instances_.size()), busy_count_locked(), sequences_.size()};
}

void SequenceScheduler::bind_locked(const SequenceId& id, Sequence& s) {
  const auto fewest = std::min_element(per_instance_.begin(), per_instance_.end());
  if (max_candidates_ > 0 && *fewest >= max_candidates_) {
    backlog_.push_back(id);
    return;
  }
  s.instance = static_cast<int>(fewest - per_instance_.begin());
  ++*fewest;
}

void SequenceScheduler::release_locked(int instance) {
  --per_instance_[static_cast<std::size_t>(instance)];
  while (!backlog_.empty() && per_instance_[static_cast<std::size_t>(instance)] < max_candidates_) {
    auto next = sequences_.find(backlog_.front());
    backlog_.pop_front();
    if (next == sequences_.end()) continue;
    next->second.instance = instance;
    next->second.last_active = SchedulerClock::now();  // its idle clock starts now
    ++per_instance_[static_cast<std::size_t>(instance)];
  }
}

void SequenceScheduler::on_wake_locked(SchedulerClock::time_point now) { dispatch_locked(now); }

void SequenceScheduler::dispatch_locked(SchedulerClock::time_point now) {
  auto next_expiry = SchedulerClock::time_point::max();
  std::vector<SequenceMap::iterator> ready;  // something queued, not running, its instance free
  // Idle too long: the sequence and its state go (backlogged ones wait).
  for (auto it = sequences_.begin(); it != sequences_.end();) {
    Sequence& s = it->second;
    if (s.instance != kBacklog && !s.running && s.queue.empty() && now - s.last_active >= idle_timeout_) {
      const int instance = s.instance;
      it = sequences_.erase(it);
      release_locked(instance);
      continue;
    }
    ++it;
  }
  for (auto it = sequences_.begin(); it != sequences_.end(); ++it) {
    Sequence& s = it->second;
    if (s.instance == kBacklog) continue;
    if (!s.running && !s.queue.empty() && !busy_locked(s.instance)) ready.push_back(it);
    if (!s.running && s.queue.empty()) next_expiry = std::min(next_expiry, s.last_active + idle_timeout_);
  }
  if (next_expiry != SchedulerClock::time_point::max()) wake_at_locked(next_expiry);
  // Oldest request first; it leads a batch on its sequence's instance, and
  // the next oldest ready requests bound to that instance join it while
  // they fit (same inputs and outputs apart from dim 0, max_batch_size rows).
  std::stable_sort(ready.begin(), ready.end(), [](const auto& a, const auto& b) {
    return a->second.queue.front().arrival < b->second.queue.front().arrival;
  });
  std::vector<std::string> keys(ready.size());  // what must match to share a batch
  if (max_rows_ > 1)
    for (std::size_t i = 0; i < ready.size(); ++i) {
      const Pending& head = ready[i]->second.queue.front();
      keys[i] = batch_key(head.job.inputs, head.job.outputs);
    }
  std::vector<bool> taken(ready.size(), false);
  std::vector<bool> held(instances_.size(), false);  // waiting for more this time
  for (std::size_t lead = 0; lead < ready.size(); ++lead) {
    const int instance = ready[lead]->second.instance;
    if (taken[lead] || busy_locked(instance) || held[static_cast<std::size_t>(instance)]) continue;
    const Pending& head = ready[lead]->second.queue.front();
    int64_t rows = rows_of(head.job.inputs);
    std::vector<std::size_t> chosen{lead};
    for (std::size_t j = lead + 1; max_rows_ > 1 && j < ready.size() && rows < max_rows_; ++j) {
      if (taken[j] || ready[j]->second.instance != instance) continue;
      const Pending& next = ready[j]->second.queue.front();
      const int64_t more = rows_of(next.job.inputs);
      if (rows + more > max_rows_ || keys[j] != keys[lead]) continue;
      chosen.push_back(j);
      rows += more;
    }
    // The strategy's window: a short batch waits for the instance's other
    // live sequences, up to the window after its oldest request.
    const auto close = head.arrival + window_;
    const bool others_may_send = per_instance_[static_cast<std::size_t>(instance)] > static_cast<int>(chosen.size());
    if (max_rows_ > 1 && window_.count() > 0 && rows < target_rows_ && others_may_send && now < close) {
      held[static_cast<std::size_t>(instance)] = true;
      wake_at_locked(close);
      continue;
    }
    std::vector<Member> members;
    for (std::size_t j : chosen) {
      taken[j] = true;
      members.push_back(take_head_locked(ready[j]));
    }
    start_locked(instance, [this, instance, members = std::move(members)]() mutable {
      execute(instance, std::move(members));
    });
  }
}

SequenceScheduler::Member SequenceScheduler::take_head_locked(SequenceMap::iterator it) {
  Sequence& s = it->second;
  Member m{it->first, std::move(s.queue.front()), {}};
  s.queue.pop_front();
  --queued_;
  s.running = true;
  // A start request begins from the initial state even when the id was in
  // use (Triton restarts the sequence).
  if (!m.request.job.options.sequence_start) m.state = s.state;
  return m;
}

Result<NamedTensors> SequenceScheduler::model_inputs(const Pending& request, const SequenceId& id,
                                                     const NamedTensors& state) const {
  NamedTensors inputs = request.job.inputs;
  const int64_t rows = rows_of(request.job.inputs);
  for (const StateSpec& spec : states_) {
    auto carried = std::find_if(state.begin(), state.end(), [&](const NamedTensor& t) { return t.name == spec.input; });
    if (carried != state.end()) {
      inputs.push_back(*carried);
    } else if (batched()) {
      POLARIS_ASSIGN_OR_RETURN(Tensor initial, repeat_rows(spec.initial, rows));
      inputs.push_back({spec.input, std::move(initial)});
    } else {
      inputs.push_back({spec.input, spec.initial});
    }
  }
  const Shape control_shape = batched() ? Shape{rows, 1} : Shape{1};
  for (const ControlSpec& c : controls_) {
    bool on = true;  // READY: the request holds valid data
    if (c.kind == Control::CONTROL_SEQUENCE_START) on = request.job.options.sequence_start;
    if (c.kind == Control::CONTROL_SEQUENCE_END) on = request.job.options.sequence_end;
    const double value = on ? c.true_value : c.false_value;
    Result<Tensor> t = InvalidArgument("unsupported control");
    if (c.kind == Control::CONTROL_SEQUENCE_CORRID && c.dtype == DataType::kBytes) {
      // A string CORRID gets the id as sent; a numeric id as its digits.
      POLARIS_ASSIGN_OR_RETURN(int64_t n, control_shape.element_count());
      t = Tensor::from_strings(control_shape, std::vector<std::string>(static_cast<std::size_t>(n), id.value));
    } else if (c.kind == Control::CONTROL_SEQUENCE_CORRID) {
      if (id.is_string)
        return InvalidArgument("this model's CONTROL_SEQUENCE_CORRID input needs a numeric sequence_id, not " +
                               id.to_string());
      const uint64_t corrid = std::stoull(id.value);
      if (c.dtype == DataType::kInt64) t = filled<int64_t>(control_shape, static_cast<int64_t>(corrid));
      if (c.dtype == DataType::kUint64) t = filled<uint64_t>(control_shape, corrid);
      if (c.dtype == DataType::kInt32) t = filled<int32_t>(control_shape, static_cast<int32_t>(corrid));
      if (c.dtype == DataType::kUint32) t = filled<uint32_t>(control_shape, static_cast<uint32_t>(corrid));
    } else if (c.dtype == DataType::kInt32) {
      t = filled<int32_t>(control_shape, static_cast<int32_t>(value));
    } else if (c.dtype == DataType::kFp32) {
      t = filled<float>(control_shape, static_cast<float>(value));
    } else {  // BOOL: one byte per element (std::vector<bool> has no data())
      t = filled<uint8_t>(control_shape, value != 0 ? 1 : 0);
      if (t.ok()) t = Tensor::borrow(DataType::kBool, control_shape, t->mutable_data(), t->byte_size(),
                                     std::make_shared<Tensor>(*t));
    }
    if (!t.ok()) return t.status();
    inputs.push_back({c.input, std::move(*t)});
  }
  return inputs;
}

void SequenceScheduler::execute(int instance, std::vector<Member> members) {
  ExecutionPhases phases;
  phases.start = SchedulerClock::now();
  // Requests whose inputs cannot be built (a string id for a CORRID input)
  // fail alone; the others run.
  std::vector<Result<NamedTensors>> results;
  std::vector<NamedTensors> inputs;
  std::vector<std::size_t> running;
  for (std::size_t k = 0; k < members.size(); ++k) {
    Result<NamedTensors> in = model_inputs(members[k].request, members[k].id, members[k].state);
    if (in.ok()) {
      inputs.push_back(std::move(*in));
      running.push_back(k);
      results.emplace_back(NamedTensors{});
    } else {
      results.emplace_back(in.status());
    }
  }
  if (!running.empty()) {
    // Members share a batch only with the same requested outputs.
    const auto& asked = members[running.front()].request.job.outputs;
    std::vector<std::string> wanted = asked.empty() ? outputs_ : asked;
    for (const StateSpec& spec : states_) wanted.push_back(spec.output);
    std::vector<Result<NamedTensors>> outputs = run_stacked(instance, std::move(inputs), wanted, phases);
    for (std::size_t i = 0; i < running.size(); ++i) results[running[i]] = std::move(outputs[i]);
  }
  phases.outputs_ready = SchedulerClock::now();
  {
    std::lock_guard lock(mu_);
    for (std::size_t k = 0; k < members.size(); ++k) finish_member_locked(members[k], std::move(results[k]), phases);
  }
  finish_task(instance);
}

std::vector<Result<NamedTensors>> SequenceScheduler::run_stacked(int instance, std::vector<NamedTensors> inputs,
                                                                 const std::vector<std::string>& wanted,
                                                                 ExecutionPhases& phases) {
  Model& model = *instances_[static_cast<std::size_t>(instance)];
  auto run_once = [&](const NamedTensors& batch) {
    phases.inputs_ready = SchedulerClock::now();
    Result<NamedTensors> out = model.run(batch, wanted);
    phases.engine_done = SchedulerClock::now();
    phases.outputs_ready = phases.engine_done;  // the rows are cut apart later, per request
    if (out.ok())
      record_execution(stats_, phases, batched() ? static_cast<uint64_t>(rows_of(batch)) : 1,
                       1);
    return out;
  };
  std::vector<Result<NamedTensors>> results;
  if (inputs.size() == 1) {
    results.push_back(run_once(inputs.front()));
    return results;
  }
  std::vector<const NamedTensors*> parts;
  for (const NamedTensors& in : inputs) parts.push_back(&in);
  Result<NamedTensors> stacked = stack_inputs(parts);
  if (!stacked.ok()) {
    // The carried states do not line up (sequences that changed their row
    // count): each runs alone, as it would have without batching.
    for (const NamedTensors& in : inputs) results.push_back(run_once(in));
    return results;
  }
  std::vector<int64_t> rows;
  for (const NamedTensors& in : inputs) rows.push_back(rows_of(in));
  return split_outputs(run_once(*stacked), rows);
}

void SequenceScheduler::finish_member_locked(Member& m, Result<NamedTensors> outputs, const ExecutionPhases& phases) {
  NamedTensors answer, next_state;
  if (outputs.ok()) {
    for (NamedTensor& out : *outputs) {
      auto spec = std::find_if(states_.begin(), states_.end(), [&](const StateSpec& s) { return s.output == out.name; });
      if (spec != states_.end())
        next_state.push_back({spec->input, std::move(out.tensor)});
      else
        answer.push_back(std::move(out));
    }
  }
  auto it = sequences_.find(m.id);
  if (it != sequences_.end()) {
    Sequence& s = it->second;
    s.running = false;
    s.last_active = SchedulerClock::now();
    if (outputs.ok()) s.state = std::move(next_state);  // a failed request leaves the state as it was
    if (m.request.job.options.sequence_end) {
      for (Pending& p : s.queue)
        fail_locked(p, InvalidArgument(fmt::format("sequence {} already ended", m.id.to_string())));
      queued_ -= s.queue.size();
      const int instance = s.instance;
      sequences_.erase(it);
      release_locked(instance);
    }
  }
  if (outputs.ok()) {
    record_request(stats_, m.request.arrival, phases);
    defer_locked([done = std::move(m.request.job.done), answer = std::move(answer)]() mutable {
      done(std::move(answer));
    });
  } else {
    fail_locked(m.request, outputs.status());
  }
}

}  // namespace polaris
