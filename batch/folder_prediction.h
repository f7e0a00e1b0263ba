// Running a model over a folder of images or .npy files: the seed's batch
// prediction, shared by `polaris predict --input-dir`, the Python package's
// predict_folder() and MultiModelServer.predict_batch().
//
// Memory is bounded: samples are decoded one batch at a time (batch_size of
// them, stacked into one [N,...] input), never the whole folder. A file that
// cannot be read or decoded is reported through on_result and skipped; a
// batch the engine refuses is retried sample by sample, so only the bad
// sample fails. Callbacks run on the calling thread, in file order.
// Thread-safety: one call at a time per RunFunction's model.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "batch/image_preprocessing.h"
#include "core/class_scores.h"
#include "core/model_metadata.h"
#include "core/status.h"
#include "core/tensor.h"

namespace polaris::batch {

struct FolderListing {
  std::vector<std::string> files;    // images and .npy files, sorted by path
  std::vector<std::string> skipped;  // other files
};

// The folder's files (with `recursive`, its subfolders' too). NotFound when
// `folder` is missing, InvalidArgument when it is not a folder.
Result<FolderListing> list_folder(const std::string& folder, bool recursive = false);

struct FileResult {
  std::string file;
  Status status;                  // not OK: the file was skipped (message names it)
  std::vector<ClassScore> top_k;  // per output that looks like class scores, row 0 only
  std::vector<std::string> top_k_outputs;  // the output each top_k entry came from
  NamedTensors outputs;           // this sample's outputs (batch dim kept, of 1), if keep_outputs
};

struct Progress {
  int64_t done = 0;    // files processed, failed ones included
  int64_t total = 0;
  int64_t failed = 0;
  double seconds = 0;  // since the run started
};

struct FolderPredictionOptions {
  int batch_size = 8;  // samples per engine call (1: no stacking)
  int top_k = 5;
  std::vector<std::string> labels;  // class names, index = class
  bool keep_outputs = false;        // fill FileResult::outputs
  std::vector<std::string> outputs; // outputs to ask for ({}: all)
  // Asked between batches; true ends the run early (Ctrl-C in Python, an
  // exception in a callback). The summary then counts what was done.
  std::function<bool()> should_stop;
};

struct FolderPredictionSummary {
  int64_t processed = 0;  // files that produced a result
  int64_t failed = 0;
  double seconds = 0;
  double files_per_second() const { return seconds > 0 ? processed / seconds : 0; }
};

using RunFunction = std::function<Result<NamedTensors>(const NamedTensors& inputs, const std::vector<std::string>& outputs)>;

// Runs `run` over `files` for the model input `input` (its name; its shape
// says whether samples can be stacked: a leading dynamic or >1 batch dim).
// `preprocessing` applies to image files. Returns an error only when the
// run cannot start (bad options); per-file failures are in on_result.
Result<FolderPredictionSummary> predict_files(const std::vector<std::string>& files, const TensorInfo& input,
                                              const ImagePreprocessing& preprocessing, const RunFunction& run,
                                              const FolderPredictionOptions& options,
                                              const std::function<void(const FileResult&)>& on_result,
                                              const std::function<void(const Progress&)>& on_progress = {});

// The largest batch the input allows: options' size, capped by a static
// leading dim (a model exported for batch 1 gets 1), 1 for an input without
// a batch dim (rank 3 images).
int effective_batch_size(const TensorInfo& input, int requested);

}  // namespace polaris::batch
