#include "runtime/model_scheduler.h"

#include "runtime/batch_scheduler.h"
#include "runtime/sequence_scheduler.h"

namespace polaris {

Result<std::unique_ptr<ModelScheduler>> make_scheduler(std::vector<Model*> instances,
                                                       const inference::ModelConfig& config,
                                                       const std::string& model_dir, ModelStatistics& stats,
                                                       ExecutionPool& pool) {
  if (instances.empty()) return InvalidArgument("a scheduler needs at least one model instance");
  if (config.has_sequence_batching())
    return SequenceScheduler::create(std::move(instances), config, model_dir, stats, pool);
  POLARIS_ASSIGN_OR_RETURN(SchedulingPolicy policy, scheduling_policy_from_config(config));
  return std::unique_ptr<ModelScheduler>(new BatchScheduler(std::move(instances), std::move(policy), stats, pool));
}

}  // namespace polaris
