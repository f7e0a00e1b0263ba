// What `polaris quantize` and `polaris prune` report about a model before
// and after: file size, latency and (with a labelled set) top-1 accuracy,
// all measured with Polaris's own engines, as `polaris serve` would run the
// model. Latency is the median of runs interleaved between the two models
// (one run of each in turn), so both see the same machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "backends/registry.h"
#include "core/status.h"
#include "core/tensor.h"

namespace polaris::cli {

// Inputs for the first input of a classifier and the true class of each row.
struct LabelledSet {
  Tensor inputs;  // [N, ...]
  std::vector<int64_t> labels;
};

// inputs.npy-like and labels.npy-like files: as many labels as input rows,
// integer labels. Errors name the file and the problem.
Result<LabelledSet> read_labelled_set(const std::string& inputs_path, const std::string& labels_path);

struct ModelFigures {
  uint64_t file_bytes = 0;
  double median_ms = -1;            // batch 1 (dynamic dims 1), generated inputs
  std::optional<double> accuracy;   // 0..1, with a labelled set
};

struct CompressionFigures {
  ModelFigures before, after;
  int timing_runs = 0;
};

// Loads both files with `registry` and measures them. A model that does not
// load or run is an error saying which one.
Result<CompressionFigures> measure_compression(BackendRegistry& registry, const std::string& original,
                                               const std::string& compressed, int timing_runs,
                                               const LabelledSet* labelled);

}  // namespace polaris::cli
