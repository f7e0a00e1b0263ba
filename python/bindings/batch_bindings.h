// Folder prediction (batch/folder_prediction.h) for the package's
// predict_folder() and MultiModelServer.predict_batch(): the run goes on
// with the GIL released; each file's result and each progress step reach
// Python callbacks on the calling thread, with the GIL taken for them.
#pragma once

#include <nanobind/nanobind.h>

#include <string>
#include <vector>

#include "batch/folder_prediction.h"
#include "core/model_metadata.h"

namespace polaris::python {

struct FolderCall {
  std::vector<std::string> files;
  std::string preprocess;    // a preset name, "" for the model's config / imagenet
  std::string config_text;   // the model's config.pbtxt text, "" to look beside model_path
  int batch_size = 8;
  int top_k = 5;
  std::vector<std::string> labels;
  bool keep_outputs = false;
  std::string output_path;   // "" for none
  std::string output_format; // csv | jsonl | "" (from output_path)
  nanobind::object on_result = nanobind::none();    // callable(dict) or None
  nanobind::object on_progress = nanobind::none();  // callable(done, total, failed, seconds) or None
};

// Runs `run` over call.files; returns {"processed", "failed", "seconds"}.
// A Python exception raised by a callback (or Ctrl-C) stops the run after
// the current batch and is raised here.
nanobind::dict predict_files(const batch::RunFunction& run, const ModelMetadata& metadata,
                             const std::string& model_path, FolderCall call);

void bind_batch(nanobind::module_& m);  // FolderCall, list_folder

}  // namespace polaris::python
