#include "batch_bindings.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <optional>

#include "batch/image_preprocessing.h"
#include "batch/model_parameters.h"
#include "batch/result_writers.h"
#include "errors.h"
#include "runtime/model_config.h"
#include "tensors.h"

namespace nb = nanobind;

namespace polaris::python {
namespace {

nb::dict result_dict(const batch::FileResult& r) {
  nb::dict d;
  d["file"] = r.file;
  d["ok"] = r.status.ok();
  d["error"] = r.status.ok() ? std::string() : r.status.message();
  nb::list top;
  for (std::size_t i = 0; i < r.top_k.size(); ++i)
    top.append(nb::make_tuple(r.top_k[i].index, r.top_k[i].label, r.top_k[i].score, r.top_k_outputs[i]));
  d["top_k"] = top;
  nb::dict outputs;
  for (const auto& out : r.outputs) outputs[nb::str(out.name.c_str())] = tensor_to_python(out.tensor);
  d["outputs"] = outputs;
  return d;
}

}  // namespace

nb::dict predict_files(const batch::RunFunction& run, const ModelMetadata& metadata, const std::string& model_path,
                       FolderCall call) {
  if (metadata.inputs.size() != 1)
    raise(InvalidArgument("predict_folder needs a model with one input; '" + metadata.name + "' has " +
                          std::to_string(metadata.inputs.size())));
  const TensorInfo& input = metadata.inputs[0];
  auto parameters = value_or_raise(batch::model_parameters(model_path, call.config_text));
  auto preprocessing = value_or_raise(batch::preprocessing_for(input, parameters, call.preprocess));
  std::unique_ptr<batch::ResultWriter> writer;
  if (!call.output_path.empty()) {
    auto format = call.output_format.empty() ? batch::format_for_path(call.output_path)
                                             : batch::parse_format(call.output_format);
    writer = value_or_raise(batch::ResultWriter::open(call.output_path, value_or_raise(std::move(format))));
  }
  batch::FolderPredictionOptions options;
  options.batch_size = call.batch_size;
  options.top_k = call.top_k;
  options.labels = call.labels;
  options.keep_outputs = call.keep_outputs;

  std::optional<nb::python_error> callback_error;
  Status write_status;
  options.should_stop = [&] {
    nb::gil_scoped_acquire locked;
    if (!callback_error && PyErr_CheckSignals() != 0) callback_error.emplace();  // Ctrl-C
    return callback_error.has_value() || !write_status.ok();
  };
  auto on_result = [&](const batch::FileResult& r) {
    if (writer && write_status.ok()) write_status = writer->write(r);
    if (call.on_result.is_none() || callback_error) return;
    nb::gil_scoped_acquire locked;
    try {
      call.on_result(result_dict(r));
    } catch (nb::python_error& e) {
      callback_error.emplace(std::move(e));
    }
  };
  auto on_progress = [&](const batch::Progress& p) {
    if (call.on_progress.is_none() || callback_error) return;
    nb::gil_scoped_acquire locked;
    try {
      call.on_progress(p.done, p.total, p.failed, p.seconds);
    } catch (nb::python_error& e) {
      callback_error.emplace(std::move(e));
    }
  };
  Result<batch::FolderPredictionSummary> summary = Internal("not run");
  {
    nb::gil_scoped_release unlocked;
    summary = batch::predict_files(call.files, input, preprocessing, run, options, on_result, on_progress);
  }
  if (callback_error) {
    callback_error->restore();
    throw nb::python_error();
  }
  check(write_status);
  if (writer) check(writer->finish());
  const auto s = value_or_raise(std::move(summary));
  nb::dict d;
  d["processed"] = s.processed;
  d["failed"] = s.failed;
  d["seconds"] = s.seconds;
  return d;
}

void bind_batch(nb::module_& m) {
  nb::class_<FolderCall>(m, "FolderCall")
      .def(nb::init<>())
      .def_rw("files", &FolderCall::files)
      .def_rw("preprocess", &FolderCall::preprocess)
      .def_rw("config_text", &FolderCall::config_text)
      .def_rw("batch_size", &FolderCall::batch_size)
      .def_rw("top_k", &FolderCall::top_k)
      .def_rw("labels", &FolderCall::labels)
      .def_rw("keep_outputs", &FolderCall::keep_outputs)
      .def_rw("output_path", &FolderCall::output_path)
      .def_rw("output_format", &FolderCall::output_format)
      .def_rw("on_result", &FolderCall::on_result)
      .def_rw("on_progress", &FolderCall::on_progress);
  m.def(
      "list_folder",
      [](const std::string& folder, bool recursive) {
        auto listing = value_or_raise(batch::list_folder(folder, recursive));
        return nb::make_tuple(listing.files, listing.skipped);
      },
      nb::arg("folder"), nb::arg("recursive") = false);
  // What create_loader() needs of a config.pbtxt: its platform or backend.
  m.def("config_platform", [](const std::string& text, const std::string& source) {
    auto config = value_or_raise(parse_model_config(text, source));
    return config.platform().empty() ? config.backend() : config.platform();
  });
  m.def("find_labels", [](const std::string& model_path) { return load_labels(find_labels_file(model_path)); });
}

}  // namespace polaris::python
