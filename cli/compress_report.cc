#include "cli/compress_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/npy.h"
#include "runtime/model_check.h"

namespace polaris::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Rows per engine call when scoring a labelled set.
constexpr int64_t kEvalBatch = 64;

Result<double> top1_accuracy(Model& model, const LabelledSet& set) {
  const ModelMetadata& m = model.metadata();
  if (m.inputs.empty() || m.outputs.empty()) return FailedPrecondition("the model has no input or no output");
  const Shape& shape = set.inputs.shape();
  const int64_t rows = shape[0];
  const std::size_t row_bytes = set.inputs.byte_size() / static_cast<std::size_t>(rows);
  int64_t correct = 0;
  for (int64_t first = 0; first < rows; first += kEvalBatch) {
    const int64_t n = std::min(kEvalBatch, rows - first);
    std::vector<int64_t> dims = shape.dims();
    dims[0] = n;
    POLARIS_ASSIGN_OR_RETURN(
        Tensor chunk, Tensor::borrow(set.inputs.dtype(), Shape(dims),
                                     const_cast<std::byte*>(set.inputs.bytes().data()) + first * row_bytes,
                                     static_cast<std::size_t>(n) * row_bytes));
    NamedTensors inputs;
    inputs.push_back({m.inputs[0].name, std::move(chunk)});
    POLARIS_ASSIGN_OR_RETURN(NamedTensors outputs, model.run(inputs, {m.outputs[0].name}));
    const Tensor& scores = outputs.at(0).tensor;
    if (scores.shape().rank() != 2 || scores.shape()[0] != n)
      return FailedPrecondition(fmt::format("output '{}' has shape {}; accuracy needs [batch, classes] scores",
                                            m.outputs[0].name, scores.shape().to_string()));
    const int64_t classes = scores.shape()[1];
    for (int64_t r = 0; r < n; ++r) {
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c)
        if (element_as_double(scores, r * classes + c) > element_as_double(scores, r * classes + best)) best = c;
      correct += best == set.labels[first + r];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(rows);
}

Result<std::unique_ptr<Model>> load_for_report(BackendRegistry& registry, const std::string& path, const char* which) {
  LoadOptions options;
  options.providers = {"cpu"};  // INT8 kernels are CPU kernels; and no GPU probing in the report
  auto model = registry.load(path, options);
  if (!model.ok()) return Status(model.status().code(), fmt::format("the {} model does not load: {}", which, model.status().message()));
  return model;
}

double median(std::vector<double> values) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

Result<LabelledSet> read_labelled_set(const std::string& inputs_path, const std::string& labels_path) {
  LabelledSet set;
  POLARIS_ASSIGN_OR_RETURN(set.inputs, read_npy(inputs_path));
  POLARIS_ASSIGN_OR_RETURN(Tensor labels, read_npy(labels_path));
  if (set.inputs.shape().rank() < 1 || set.inputs.shape()[0] < 1 || !is_fixed_size(set.inputs.dtype()))
    return InvalidArgument("'" + inputs_path + "' must hold one or more rows of numbers ([N, ...])");
  const DataType t = labels.dtype();
  if (labels.shape().rank() != 1 || (t != DataType::kInt64 && t != DataType::kInt32 && t != DataType::kUint8))
    return InvalidArgument("'" + labels_path + "' must be a 1-D array of integer class indices");
  if (labels.shape()[0] != set.inputs.shape()[0])
    return InvalidArgument(fmt::format("'{}' holds {} labels for the {} rows of '{}'", labels_path, labels.shape()[0],
                                       set.inputs.shape()[0], inputs_path));
  for (int64_t i = 0; i < labels.shape()[0]; ++i)
    set.labels.push_back(static_cast<int64_t>(element_as_double(labels, static_cast<std::size_t>(i))));
  return set;
}

Result<CompressionFigures> measure_compression(BackendRegistry& registry, const std::string& original,
                                               const std::string& compressed, int timing_runs,
                                               const LabelledSet* labelled) {
  POLARIS_ASSIGN_OR_RETURN(std::unique_ptr<Model> before, load_for_report(registry, original, "original"));
  POLARIS_ASSIGN_OR_RETURN(std::unique_ptr<Model> after, load_for_report(registry, compressed, "compressed"));
  CompressionFigures figures;
  figures.timing_runs = timing_runs;
  figures.before.file_bytes = std::filesystem::file_size(original);
  figures.after.file_bytes = std::filesystem::file_size(compressed);

  POLARIS_ASSIGN_OR_RETURN(std::vector<GeneratedCase> cases,
                           generated_cases(before->metadata(), inference::ModelConfig{}, CheckOptions{}));
  const NamedTensors& inputs = cases.at(0).inputs;  // batch 1, every dynamic dim 1
  for (Model* m : {before.get(), after.get()}) {  // a first run of each: lazy allocations
    auto warm = m->run(inputs, {});
    if (!warm.ok())
      return Status(warm.status().code(), fmt::format("the {} model fails on generated inputs: {}",
                                                      m == before.get() ? "original" : "compressed", warm.status().message()));
  }
  std::vector<double> times_before, times_after;
  for (int i = 0; i < timing_runs; ++i) {
    for (auto [model, times] : {std::pair{before.get(), &times_before}, std::pair{after.get(), &times_after}}) {
      const auto start = Clock::now();
      POLARIS_RETURN_IF_ERROR(model->run(inputs, {}).status());
      times->push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
  }
  figures.before.median_ms = median(times_before);
  figures.after.median_ms = median(times_after);
  if (labelled != nullptr) {
    POLARIS_ASSIGN_OR_RETURN(figures.before.accuracy, top1_accuracy(*before, *labelled));
    POLARIS_ASSIGN_OR_RETURN(figures.after.accuracy, top1_accuracy(*after, *labelled));
  }
  return figures;
}

}  // namespace polaris::cli
