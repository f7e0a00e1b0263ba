#include "server/metrics.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "core/process_memory.h"

namespace polaris {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

struct Families {
  std::map<std::string, MetricFamily> by_name;
  std::vector<std::string> order;

  MetricFamily& get(const std::string& name, const std::string& help, MetricType type) {
    auto [it, added] = by_name.try_emplace(name, MetricFamily{name, help, type, {}});
    if (added) order.push_back(name);
    return it->second;
  }
  void add(const std::string& name, const std::string& help, MetricType type,
           std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter)
      m.counter.value = value;
    else
      m.gauge.value = value;
    get(name, help, type).metric.push_back(std::move(m));
  }
  std::vector<MetricFamily> list() const {
    std::vector<MetricFamily> out;
    for (const auto& name : order) out.push_back(by_name.at(name));
    return out;
  }
};

std::pair<uint64_t, uint64_t> memory_total_and_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t total = 0, available = 0, kib = 0;
  while (in >> key >> kib) {
    if (key == "MemTotal:") total = kib * 1024;
    if (key == "MemAvailable:") available = kib * 1024;
    in.ignore(256, '\n');
  }
  return {total, available};
}

devices::GpuTelemetryOptions gpu_options_from_environment() {
  devices::GpuTelemetryOptions options;
  if (const char* root = std::getenv("POLARIS_SYSFS_ROOT"); root != nullptr && *root != '\0')
    options.sysfs_root = root;
  return options;
}

}  // namespace

MetricsRenderer::MetricsRenderer(ModelManager& manager) : MetricsRenderer(manager, gpu_options_from_environment()) {}

MetricsRenderer::MetricsRenderer(ModelManager& manager, devices::GpuTelemetryOptions gpu)
    : manager_(manager), gpus_(std::move(gpu)) {}

double MetricsRenderer::cpu_utilization() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal)) return 0;
  const uint64_t busy = user + nice + system + irq + softirq + steal;
  const uint64_t total = busy + idle + iowait;
  std::lock_guard lock(mu_);
  const double utilization =
      total > last_total_ ? static_cast<double>(busy - last_busy_) / static_cast<double>(total - last_total_) : 0.0;
  last_busy_ = busy;
  last_total_ = total;
  return utilization;
}

std::string MetricsRenderer::render() {
  Families f;
  constexpr auto kCounter = MetricType::Counter;
  constexpr auto kGauge = MetricType::Gauge;

  auto stats = manager_.statistics("");
  if (stats.ok()) {
    for (const auto& s : *stats) {
      const std::vector<ClientMetric::Label> labels{{"model", s.name}, {"version", std::to_string(s.version)}};
      const StatisticsSnapshot& st = s.stats;
      f.add("nv_inference_request_success", "Number of successful inference requests, all batch sizes", kCounter,
            labels, static_cast<double>(st.success.count));
      auto failure_labels = labels;
      failure_labels.push_back({"reason", "OTHER"});
      f.add("nv_inference_request_failure", "Number of failed inference requests, all batch sizes", kCounter,
            failure_labels, static_cast<double>(st.fail.count));
      f.add("nv_inference_count", "Number of inferences performed (a batch of n counts n)", kCounter, labels,
            static_cast<double>(st.inference_count));
      f.add("nv_inference_exec_count", "Number of model executions performed", kCounter, labels,
            static_cast<double>(st.execution_count));
      f.add("nv_inference_request_duration_us", "Cumulative inference request duration in microseconds", kCounter,
            labels, static_cast<double>(st.success.ns + st.fail.ns) / 1e3);
      f.add("nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds", kCounter,
            labels, static_cast<double>(st.queue.ns) / 1e3);
      f.add("nv_inference_compute_input_duration_us", "Cumulative compute input duration in microseconds", kCounter,
            labels, static_cast<double>(st.compute_input.ns) / 1e3);
      f.add("nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds",
            kCounter, labels, static_cast<double>(st.compute_infer.ns) / 1e3);
      f.add("nv_inference_compute_output_duration_us", "Cumulative inference compute output duration in microseconds",
            kCounter, labels, static_cast<double>(st.compute_output.ns) / 1e3);
      for (const auto& [size, batch] : st.batch) {
        auto with_size = labels;
        with_size.push_back({"batch_size", std::to_string(size)});
        f.add("polaris_batch_executions_total", "Engine executions by batch size (dynamic/adaptive batching)",
              kCounter, with_size, static_cast<double>(batch.compute_infer.count));
      }
    }
  }
  for (const auto& row : manager_.status()) {
    if (row.version == 0) continue;
    const std::vector<ClientMetric::Label> labels{{"model", row.name}, {"version", std::to_string(row.version)}};
    f.add("nv_inference_pending_request_count", "Instantaneous number of pending requests awaiting execution",
          kGauge, labels, row.in_flight);
    f.add("polaris_queue_depth", "Requests holding the model right now (waiting or running)", kGauge, labels,
          row.in_flight);
    f.add("polaris_scheduler_queued", "Requests waiting in the model's scheduler for an instance", kGauge, labels,
          static_cast<double>(row.scheduler.queued));
    f.add("polaris_instances", "Loaded instances of the model version (instance_group)", kGauge, labels,
          row.scheduler.instances);
    f.add("polaris_instances_busy", "Instances executing right now", kGauge, labels, row.scheduler.busy_instances);
    f.add("polaris_sequences_active", "Live sequences holding state (sequence models)", kGauge, labels,
          static_cast<double>(row.scheduler.sequences));
    auto with_device = labels;
    with_device.push_back({"device", row.device.empty() ? "none" : row.device});
    f.add("polaris_model_resident_bytes", "Measured memory held by the loaded model (0 when not loaded)", kGauge,
          with_device, static_cast<double>(row.resident_bytes));
    f.add("polaris_model_ready", "1 when the model version is loaded and ready", kGauge, labels,
          row.state == ModelState::kReady ? 1 : 0);
    f.add("polaris_model_loads_total", "Loads of this model version", kCounter, labels, static_cast<double>(row.loads));
    f.add("polaris_model_evictions_total", "Evictions of this model version (budget or keep-alive)", kCounter, labels,
          static_cast<double>(row.evictions));
    f.add("polaris_model_load_duration_seconds", "Duration of the model version's last load, warm-up included", kGauge,
          labels, static_cast<double>(row.last_load_duration.count()) / 1e3);
  }
  for (const auto& device : manager_.memory()) {
    const std::vector<ClientMetric::Label> labels{{"device", device.device}};
    if (device.budget != UINT64_MAX)
      f.add("polaris_memory_budget_bytes", "Memory budget for models on the device", kGauge, labels,
            static_cast<double>(device.budget));
    f.add("polaris_memory_used_bytes", "Memory accounted to loaded models on the device", kGauge, labels,
          static_cast<double>(device.used));
  }
  const ManagerCounters c = manager_.counters();
  f.add("polaris_loads_total", "Model loads", kCounter, {}, static_cast<double>(c.loads));
  f.add("polaris_load_failures_total", "Model loads that failed", kCounter, {}, static_cast<double>(c.load_failures));
  f.add("polaris_unloads_total", "Model unloads by request or repository change", kCounter, {},
        static_cast<double>(c.unloads));
  f.add("polaris_evictions_total", "Models evicted to make room (memory budget or model count)", kCounter, {},
        static_cast<double>(c.evictions));
  f.add("polaris_keep_alive_unloads_total", "Models unloaded after their keep-alive", kCounter, {},
        static_cast<double>(c.keep_alive_unloads));
  f.add("polaris_reloads_total", "Models reloaded because their files changed", kCounter, {},
        static_cast<double>(c.reloads));

  const auto [total, available] = memory_total_and_available();
  f.add("nv_cpu_utilization", "CPU utilization rate [0.0 - 1.0]", kGauge, {}, cpu_utilization());
  f.add("nv_cpu_memory_total_bytes", "CPU total memory (RAM), in bytes", kGauge, {}, static_cast<double>(total));
  f.add("nv_cpu_memory_used_bytes", "CPU used memory (RAM), in bytes", kGauge, {},
        static_cast<double>(total - available));
  f.add("polaris_process_resident_bytes", "Resident memory of the Polaris process", kGauge, {},
        static_cast<double>(process_rss_bytes()));

  // Triton's GPU metrics, one series per GPU labelled gpu_uuid. A value the
  // driver could not give this time is left out rather than reported as 0.
  for (const auto& gpu : gpus_.sample()) {
    const std::vector<ClientMetric::Label> labels{{"gpu_uuid", gpu.uuid}};
    if (gpu.utilization)
      f.add("nv_gpu_utilization", "GPU utilization rate [0.0 - 1.0]", kGauge, labels, *gpu.utilization);
    if (gpu.memory_total_bytes)
      f.add("nv_gpu_memory_total_bytes", "GPU total memory, in bytes", kGauge, labels,
            static_cast<double>(*gpu.memory_total_bytes));
    if (gpu.memory_used_bytes)
      f.add("nv_gpu_memory_used_bytes", "GPU used memory, in bytes", kGauge, labels,
            static_cast<double>(*gpu.memory_used_bytes));
    if (gpu.power_watts) f.add("nv_gpu_power_usage", "GPU power usage in watts", kGauge, labels, *gpu.power_watts);
    if (gpu.power_limit_watts)
      f.add("nv_gpu_power_limit", "GPU power management limit in watts", kGauge, labels, *gpu.power_limit_watts);
    if (gpu.energy_joules)
      f.add("nv_energy_consumption", "GPU energy consumption in joules since the server started", kCounter, labels,
            *gpu.energy_joules);
  }

  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, f.list());
  return out.str();
}

}  // namespace polaris
