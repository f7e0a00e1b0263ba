// ModelScheduler: how one loaded model version turns requests into engine
// executions on its instances. Every request goes through one:
//   - BatchScheduler (batch_scheduler.h): a queue with priority levels and
//     queue policies; one request per execution by default, stacked
//     batches with `dynamic_batching` or adaptive batching;
//   - SequenceScheduler (sequence_scheduler.h): stateful models
//     (`sequence_batching`): each sequence's requests in order on one
//     instance, implicit state carried between them.
// Executions run on the manager's ExecutionPool; a waiting request holds no
// thread. The caller keeps the model loaded until `done` is called (a
// ModelHandle does that), and `done` is called exactly once, on a pool
// thread or, for a request refused at once, on the caller's.
// Thread-safety: submit() and status() may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/status.h"
#include "core/tensor.h"
#include "proto/model_config.pb.h"
#include "runtime/execution_pool.h"
#include "runtime/model_statistics.h"
#include "runtime/scheduling_policy.h"

namespace polaris {

using InferCallback = std::function<void(Result<NamedTensors>)>;

struct InferJob {
  NamedTensors inputs;
  std::vector<std::string> outputs;  // empty: every output
  RequestOptions options;
  InferCallback done;
  // The submitting thread may run the execution itself when an instance is
  // free, nothing waits and the model does not batch: saves a thread
  // hand-off for quick models (the HTTP I/O thread does this for models
  // that answer in well under a millisecond).
  bool allow_inline = false;
};

struct SchedulerStatus {
  std::size_t queued = 0;     // requests waiting for an instance
  int instances = 0;
  int busy_instances = 0;
  std::size_t sequences = 0;  // live sequences (sequence models)
};

class ModelScheduler {
 public:
  virtual ~ModelScheduler() = default;
  virtual void submit(InferJob job) = 0;
  virtual SchedulerStatus status() const = 0;
};

// The scheduler a config asks for. `instances` outlive it; `model_dir`
// holds initial-state data files.
Result<std::unique_ptr<ModelScheduler>> make_scheduler(std::vector<Model*> instances,
                                                       const inference::ModelConfig& config,
                                                       const std::string& model_dir, ModelStatistics& stats,
                                                       ExecutionPool& pool);

}  // namespace polaris
