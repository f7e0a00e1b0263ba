#include "server_bindings.h"

#include <algorithm>

#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <nlohmann/json.hpp>

#include "batch_bindings.h"
#include "errors.h"
#include "runtime/model_config.h"
#include "runtime/multi_model_server.h"
#include "runtime_bindings.h"
#include "tensors.h"

namespace nb = nanobind;

namespace polaris::python {
namespace {

double ms(const DurationStat& d) { return d.count == 0 ? 0.0 : static_cast<double>(d.ns) / 1e6 / d.count; }

// One JSON object with what the seed's get_stats() gave and what the
// runtime knows: per model its state, memory, loads, evictions, requests
// and mean latencies; per device the budget; the manager's counters.
nlohmann::json stats(MultiModelServer& server) {
  ModelManager& manager = server.manager();
  nlohmann::json j = {{"max_models", server.max_models()}, {"memory_limit_mb", server.memory_limit_mb()}};
  std::map<std::string, StatisticsSnapshot> by_model;
  if (auto all = manager.statistics(); all.ok())
    for (const auto& v : *all) by_model[v.name] = v.stats;
  nlohmann::json models = nlohmann::json::object();
  for (const auto& row : manager.index()) {
    const StatisticsSnapshot& s = by_model[row.name];
    models[row.name] = {{"state", std::string(to_string(row.state))},
                        {"reason", row.reason},
                        {"path", row.path},
                        {"provider", row.provider},
                        {"resident_bytes", row.resident_bytes},
                        {"predicted_bytes", row.predicted_bytes},
                        {"in_flight", row.in_flight},
                        {"loads", row.loads},
                        {"evictions", row.evictions},
                        {"last_load_ms", row.last_load_duration.count()},
                        {"inference_count", s.inference_count},
                        {"execution_count", s.execution_count},
                        {"failures", s.fail.count},
                        {"mean_request_ms", ms(s.success)},
                        {"mean_queue_ms", ms(s.queue)},
                        {"mean_compute_ms", ms(s.compute_infer)}};
  }
  j["models"] = std::move(models);
  for (const auto& d : manager.memory())
    j["memory"][d.device] = {{"budget_bytes", d.budget}, {"used_bytes", d.used}};
  const ManagerCounters c = manager.counters();
  j["counters"] = {{"loads", c.loads},     {"load_failures", c.load_failures}, {"unloads", c.unloads},
                   {"evictions", c.evictions}};
  return j;
}

void load_model(MultiModelServer& server, const std::string& name, const std::string& path,
                const std::string& config_text) {
  inference::ModelConfig config;
  if (!config_text.empty()) config = value_or_raise(parse_model_config(config_text, "config of '" + name + "'"));
  Status status;
  {
    nb::gil_scoped_release unlocked;
    status = server.load_model(name, path, std::move(config));
  }
  check(status);
}

nb::list predict(MultiModelServer& server, const std::string& name,
                 const std::vector<std::pair<std::string, nb::object>>& inputs,
                 const std::vector<std::string>& outputs) {
  NamedTensors tensors = tensors_from_python(inputs);
  const bool may_be_bf16 =
      std::any_of(tensors.begin(), tensors.end(), [](const auto& t) { return t.tensor.dtype() == DataType::kUint16; });
  if (may_be_bf16) {
    Result<ModelMetadata> metadata = Internal("not loaded");
    {
      nb::gil_scoped_release unlocked;
      metadata = server.model_metadata(name);
    }
    if (metadata.ok()) relabel_bf16_inputs(tensors, *metadata);
  }
  Result<NamedTensors> result = Internal("not run");
  {
    nb::gil_scoped_release unlocked;
    result = server.predict(name, tensors, outputs);
  }
  return tensors_to_python(value_or_raise(std::move(result), Missing::kModel));
}

nb::dict server_predict_files(MultiModelServer& server, const std::string& name, FolderCall call) {
  Result<ModelMetadata> metadata = Internal("not loaded");
  {
    nb::gil_scoped_release unlocked;  // may reload an evicted model
    metadata = server.model_metadata(name);
  }
  const ModelMetadata md = value_or_raise(std::move(metadata), Missing::kModel);
  auto run = [&server, &name](const NamedTensors& in, const std::vector<std::string>& out) {
    return server.predict(name, in, out);
  };
  return python::predict_files(run, md, md.path, std::move(call));
}

}  // namespace

void bind_server(nb::module_& m) {
  nb::class_<MultiModelServer>(m, "Server")
      .def(
          "__init__",
          [](MultiModelServer* self, std::size_t max_models, uint64_t memory_limit_mb, Runtime& runtime) {
            new (self) MultiModelServer(max_models, memory_limit_mb, runtime.registry());
          },
          nb::arg("max_models"), nb::arg("memory_limit_mb"), nb::arg("runtime"), nb::keep_alive<1, 4>())
      .def("load_model", &load_model, nb::arg("name"), nb::arg("path"), nb::arg("config_text"))
      .def("predict", &predict, nb::arg("name"), nb::arg("inputs"), nb::arg("outputs"))
      .def("predict_files", &server_predict_files, nb::arg("name"), nb::arg("call"))
      .def("unload_model",
           [](MultiModelServer& s, const std::string& name) {
             Status status;
             {
               nb::gil_scoped_release unlocked;
               status = s.unload_model(name);
             }
             check(status, Missing::kModel);
           })
      .def("list_models", &MultiModelServer::list_models)
      .def("model_metadata_json",
           [](MultiModelServer& s, const std::string& name) {
             Result<ModelMetadata> metadata = Internal("not loaded");
             {
               nb::gil_scoped_release unlocked;  // may reload an evicted model
               metadata = s.model_metadata(name);
             }
             return to_json(value_or_raise(std::move(metadata), Missing::kModel)).dump();
           })
      .def("stats_json", [](MultiModelServer& s) { return stats(s).dump(); });
}

}  // namespace polaris::python
