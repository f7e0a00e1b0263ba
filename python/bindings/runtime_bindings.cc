#include "runtime_bindings.h"

#include <chrono>

#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <nlohmann/json.hpp>

#include "batch_bindings.h"
#include "errors.h"
#include "runtime/device_report.h"
#include "tensors.h"

namespace nb = nanobind;

namespace polaris::python {
namespace {

// A model loaded by a loader. The Runtime outlives it (keep_alive below):
// a model's code lives in an engine module the Runtime owns.
class LoadedModel {
 public:
  explicit LoadedModel(std::unique_ptr<Model> model) : model_(std::move(model)) {}

  std::string metadata_json() const { return to_json(model_->metadata()).dump(); }

  nb::list run(const std::vector<std::pair<std::string, nb::object>>& inputs,
               const std::vector<std::string>& outputs) {
    NamedTensors tensors = tensors_from_python(inputs);
    relabel_bf16_inputs(tensors, model_->metadata());
    Result<NamedTensors> result = InvalidArgument("not run");
    {
      nb::gil_scoped_release unlocked;
      result = model_->run(tensors, outputs);
    }
    return tensors_to_python(value_or_raise(std::move(result)));
  }

  nb::dict predict_files(FolderCall call) {
    auto run = [this](const NamedTensors& in, const std::vector<std::string>& out) { return model_->run(in, out); };
    return python::predict_files(run, model_->metadata(), model_->metadata().path, std::move(call));
  }

  // bench/python's reference: `repetitions` Model::run calls timed in C++,
  // with no Python in the loop (seconds per call).
  std::vector<double> time_runs(const std::vector<std::pair<std::string, nb::object>>& inputs, int repetitions) {
    NamedTensors tensors = tensors_from_python(inputs);
    relabel_bf16_inputs(tensors, model_->metadata());
    std::vector<double> seconds;
    nb::gil_scoped_release unlocked;
    for (int i = 0; i < repetitions; ++i) {
      const auto start = std::chrono::steady_clock::now();
      Result<NamedTensors> result = model_->run(tensors, {});
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (!result.ok()) {
        nb::gil_scoped_acquire locked;
        raise(result.status());
      }
    }
    return seconds;
  }

 private:
  std::unique_ptr<Model> model_;
};

std::unique_ptr<LoadedModel> load(Runtime& runtime, const std::string& path, const std::string& name,
                                  const std::vector<std::string>& providers, const std::string& optimization_level,
                                  const std::string& backend, const std::map<std::string, std::string>& parameters) {
  LoadOptions options;
  options.model_name = name;
  options.providers = providers;
  options.parameters = parameters;
  const auto level = parse_optimization_level(optimization_level);
  if (!level)
    raise(InvalidArgument("optimization_level must be 0, 1, 2, 'disable', 'basic', 'extended' or 'all', not '" +
                          optimization_level + "'"));
  options.optimization_level = *level;
  Result<std::unique_ptr<Model>> model = Internal("not loaded");
  {
    nb::gil_scoped_release unlocked;
    model = runtime.registry().load(path, options, backend);
  }
  return std::make_unique<LoadedModel>(value_or_raise(std::move(model)));
}

// {"onnxruntime": [...], "torch": [...]}: each engine's providers on this
// machine, best first; an engine that cannot start says why instead.
std::map<std::string, std::vector<std::string>> providers(Runtime& runtime, const std::vector<std::string>& engines) {
  std::vector<Result<Backend*>> backends;
  {
    nb::gil_scoped_release unlocked;  // the first call loads the engine's module
    for (const auto& engine : engines) backends.push_back(runtime.registry().get(engine));
  }
  std::map<std::string, std::vector<std::string>> out;
  for (std::size_t i = 0; i < engines.size(); ++i) out[engines[i]] = value_or_raise(backends[i])->available_providers();
  return out;
}

std::string devices_json(Runtime& runtime) {
  nb::gil_scoped_release unlocked;
  return devices::to_json(discover_devices_and_providers(runtime.registry())).dump();
}

}  // namespace

Runtime::Runtime(int intra_op_threads, int inter_op_threads, const std::string& module_dir) {
  if (intra_op_threads < 0 || inter_op_threads < 0) raise(InvalidArgument("thread counts must be 0 (auto) or more"));
  BackendConfig config;
  config.threads.intra_op = intra_op_threads;
  config.threads.inter_op = inter_op_threads;
  registry_ = std::make_unique<BackendRegistry>(std::move(config), module_dir);
}

void bind_runtime(nb::module_& m) {
  nb::class_<Runtime>(m, "Runtime")
      .def(nb::init<int, int, const std::string&>(), nb::arg("intra_op_threads"), nb::arg("inter_op_threads"),
           nb::arg("module_dir"))
      .def("load", &load, nb::arg("path"), nb::arg("name"), nb::arg("providers"), nb::arg("optimization_level"),
           nb::arg("backend"), nb::arg("parameters"), nb::keep_alive<0, 1>())
      .def("providers", &providers, nb::arg("engines"))
      .def("devices_json", &devices_json)
      .def("loaded_backends", [](Runtime& r) { return r.registry().loaded_backends(); })
      .def_prop_ro("module_dir", [](Runtime& r) { return r.registry().module_dir(); });
  nb::class_<LoadedModel>(m, "LoadedModel")
      .def("metadata_json", &LoadedModel::metadata_json)
      .def("run", &LoadedModel::run, nb::arg("inputs"), nb::arg("outputs"))
      .def("predict_files", &LoadedModel::predict_files, nb::arg("call"))
      .def("time_runs", &LoadedModel::time_runs, nb::arg("inputs"), nb::arg("repetitions"));
  m.def("backend_for_path", [](const std::string& path) {
    return value_or_raise(BackendRegistry::backend_name_for_path(path));
  });
}

}  // namespace polaris::python
