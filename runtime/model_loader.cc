#include "runtime/model_loader.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include <spdlog/spdlog.h>

#include "core/process_memory.h"
#include "runtime/model_config.h"
#include "runtime/provider_choice.h"
#include "runtime/reshape.h"
#include "runtime/model_check.h"
#include "runtime/warmup.h"

namespace polaris {
namespace {

using Clock = std::chrono::steady_clock;

// Runs the warm-up samples. A configured sample that fails fails the load
// (as in Triton); Polaris's default zero request may be meaningless for a
// model (a sample-rate input of 0) and only leaves a note.
Status warm_up(Model& model, const inference::ModelConfig& config, const std::string& model_dir,
               ModelMetadata& metadata_out) {
  auto samples = warmup_samples(config, model.metadata(), model_dir);
  if (!samples.ok()) return samples.status();
  if (samples->empty()) {
    metadata_out.extra_info["warmup"] = "skipped: input types are unknown until the first request";
    return Status::Ok();
  }
  int runs = 0;
  for (const WarmupSample& sample : *samples) {
    for (uint32_t i = 0; i < sample.count; ++i) {
      auto result = model.run(sample.inputs, {});
      if (!result.ok()) {
        if (sample.from_config)
          return InvalidArgument("warm-up sample '" + sample.name + "' failed: " + result.status().message());
        metadata_out.extra_info["warmup"] = "default zero request failed (model still served): " +
                                            result.status().message();
        return Status::Ok();
      }
      ++runs;
    }
  }
  metadata_out.extra_info["warmup"] = "ok (" + std::to_string(runs) + " request" + (runs == 1 ? "" : "s") + ")";
  return Status::Ok();
}

}  // namespace

Result<Backend*> backend_for_model(BackendRegistry& registry, const std::string& path,
                                   const inference::ModelConfig& config) {
  const std::string& override_name = !config.backend().empty() ? config.backend() : config.platform();
  return registry.backend_for(path, override_name);
}

std::string memory_device_of(const std::string& provider) {
  std::string lower = provider;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* gpu : {"cuda", "tensorrt", "migraphx", "rocm"}) {
    if (lower.rfind(gpu, 0) != 0) continue;
    const auto colon = lower.find(':');
    return "gpu:" + (colon == std::string::npos ? std::string("0") : lower.substr(colon + 1));
  }
  return "cpu";
}

Result<std::vector<InstancePlacement>> plan_instances(const inference::ModelConfig& config,
                                                      const std::function<int()>& machine_gpus) {
  using Group = inference::ModelInstanceGroup;
  std::vector<InstancePlacement> plan;
  std::optional<int> on_machine;  // asked once, and only for a GPU group without `gpus`
  for (const Group& group : config.instance_group()) {
    if (group.count() < 0) return InvalidArgument("instance_group count must be >= 0");
    const int count = group.count() == 0 ? 1 : group.count();  // Triton: 0/unset means 1
    std::vector<int> where{-1};                                 // CPU and AUTO groups: one set of `count`
    if (group.kind() == Group::KIND_GPU) {
      where.assign(group.gpus().begin(), group.gpus().end());
      if (where.empty()) {
        if (!on_machine) on_machine = std::max(machine_gpus(), 0);
        for (int gpu = 0; gpu < std::max(*on_machine, 1); ++gpu) where.push_back(gpu);
      }
    }
    for (int gpu : where) {
      if (group.kind() == Group::KIND_GPU && gpu < 0)
        return InvalidArgument("instance_group gpus must be >= 0, not " + std::to_string(gpu));
      if (static_cast<int>(plan.size()) + count > kMaxInstances)
        return InvalidArgument("instance_group asks for more than " + std::to_string(kMaxInstances) + " instances");
      for (int i = 0; i < count; ++i) {
        InstancePlacement p;
        p.kind = group.kind();
        if (group.kind() == Group::KIND_GPU) {
          p.gpu = gpu;
          // "cuda:N" / "migraphx:N": ONNX Runtime's device_id, libtorch's device.
          const std::string id = std::to_string(gpu);
          p.providers = {"cuda:" + id, "migraphx:" + id, "webgpu", "cpu"};
        } else if (group.kind() == Group::KIND_CPU) {
          p.providers = {"cpu"};
        }
        plan.push_back(std::move(p));
      }
    }
  }
  if (plan.empty()) plan.emplace_back();
  return plan;
}

Result<LoadedInstance> load_model_instance(BackendRegistry& registry, const InstanceRequest& request) {
  const auto start = Clock::now();
  POLARIS_ASSIGN_OR_RETURN(Backend * backend, backend_for_model(registry, request.path, request.config));
  POLARIS_ASSIGN_OR_RETURN(std::vector<InstancePlacement> placements,
                           plan_instances(request.config, [&registry] { return machine_gpu_count(registry); }));
  LoadOptions options = request.options;
  options.model_name = request.model_name;
  for (const auto& [key, value] : request.config.parameters()) options.parameters[key] = value.string_value();

  prepare_provider_choice(registry, *backend, options);  // its drivers' memory is not the model's
  const uint64_t rss_before = process_rss_bytes();
  const uint64_t heap_before = heap_in_use_bytes();
  // The provider (runtime/provider_choice.h): measured when none is named
  // (or "auto"), the engine's order for "priority", else as named. The
  // choice rewrites `options`, so every instance below runs on it; a
  // measured winner is already loaded and warm.
  POLARIS_ASSIGN_OR_RETURN(
      ProviderChoice choice,
      choose_provider(registry, {request.path, request.model_dir, request.config, !placements[0].providers.empty()},
                      options));
  if (choice.backend != nullptr) backend = choice.backend;
  auto options_for = [&](const InstancePlacement& p) {
    LoadOptions o = options;
    if (!p.providers.empty()) o.providers = p.providers;
    return o;
  };

  std::unique_ptr<Model> model = std::move(choice.model);
  if (model == nullptr) {
    POLARIS_ASSIGN_OR_RETURN(model, backend->load(request.path, options_for(placements[0])));
  }
  if (request.has_config) {
    Status valid = validate_model_config(request.config, model->metadata());
    if (!valid.ok()) return InvalidArgument(request.config_source + " of '" + request.model_name + "': " + valid.message());
  }
  // From here on the model shows and takes the config's dims (reshape).
  model = apply_reshapes(std::move(model), request.config);
  ModelMetadata metadata = model->metadata();
  for (const auto& [key, value] : choice.info) metadata.extra_info[key] = value;
  if (auto it = choice.info.find("provider_auto"); it != choice.info.end())
    spdlog::info("model '{}': provider auto: {} ({})", request.model_name, it->second,
                 choice.info["provider_auto_source"]);
  LoadedInstance instance;
  instance.config = complete_model_config(request.config, metadata);
  if (request.warmup)
    POLARIS_RETURN_IF_ERROR(warm_up(*model, instance.config, request.model_dir, metadata));
  if (request.check) {
    const CheckReport report = check_model(*model, instance.config, CheckOptions{});
    if (!report.passed())
      return FailedPrecondition("the checks before serving failed (polaris validate runs the same): " +
                                report.failures());
    metadata.extra_info["checks"] = "passed (" + std::to_string(report.results.size()) + ")";
  }
  std::string where = metadata.provider;
  for (std::size_t i = 1; i < placements.size(); ++i) {
    POLARIS_ASSIGN_OR_RETURN(std::unique_ptr<Model> extra, backend->load(request.path, options_for(placements[i])));
    extra = apply_reshapes(std::move(extra), request.config);
    if (request.warmup) {
      ModelMetadata ignored = extra->metadata();
      POLARIS_RETURN_IF_ERROR(warm_up(*extra, instance.config, request.model_dir, ignored));
    }
    where += ", " + extra->metadata().provider;
    if (auto it = extra->metadata().extra_info.find("provider_fallback"); it != extra->metadata().extra_info.end())
      metadata.extra_info["instance_" + std::to_string(i) + "_provider_fallback"] = it->second;
    instance.extra_instances.push_back(std::move(extra));
  }
  metadata.extra_info["instances"] = std::to_string(placements.size()) + " (" + where + ")";
  if (placements.size() > 1 || placements[0].kind != inference::ModelInstanceGroup::KIND_AUTO)
    spdlog::info("model '{}': {} instance{} on {}", request.model_name, placements.size(),
                 placements.size() == 1 ? "" : "s", where);
  for (const auto& [key, reason] : metadata.extra_info)
    if (key.find("provider_fallback") != std::string::npos)
      spdlog::warn("model '{}': {}: {}", request.model_name, key, reason);
  const uint64_t rss_after = process_rss_bytes();
  const uint64_t heap_after = heap_in_use_bytes();

  instance.engine = std::string(backend->name());
  instance.device = memory_device_of(metadata.provider);
  const auto grew = [](uint64_t before, uint64_t after) { return after > before ? after - before : uint64_t{0}; };
  // The heap's growth is what the model holds, even when it reuses pages an
  // unload freed (RSS growth is then near zero). Where the heap cannot be
  // read, RSS growth (the engine's and ours) is the fallback.
  const uint64_t held = heap_after > 0 ? grew(heap_before, heap_after)
                                       : std::max(metadata.measured_memory_bytes, grew(rss_before, rss_after));
  instance.measured_bytes = std::max(held, metadata.file_size_bytes);
  metadata.measured_memory_bytes = instance.measured_bytes;
  instance.load_duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  if (auto it = metadata.extra_info.find("warmup"); it != metadata.extra_info.end())
    spdlog::info("model '{}': warm-up {}", request.model_name, it->second);
  instance.metadata = std::move(metadata);
  instance.model = std::move(model);
  return instance;
}

}  // namespace polaris
