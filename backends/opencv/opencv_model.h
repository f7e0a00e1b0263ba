// OpenCvModel: one cv::dnn::Net (OpenCV backend, CPU or OpenCL target)
// behind the Model interface.
//
// Thread-safety: cv::dnn::Net is not thread-safe (setInput and forward
// mutate the net's blobs), so run() holds a per-model mutex: one forward at a
// time per model, different models in parallel. OpenCV's own thread pool
// (cv::setNumThreads, set once by the backend) parallelises inside a forward.
// metadata() is immutable once the loader has returned the model.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "backends/backend.h"

namespace polaris::opencv {

// The output dtypes run() can return: what OpenCV computes (FP32) converted
// to the ONNX-declared type. Others are reported and returned as FP32.
bool is_returnable_output_dtype(DataType type);

class OpenCvModel final : public Model {
 public:
  // `engine_outputs[i]` is OpenCV's blob name for metadata.outputs[i];
  // the rank flags say whether the file gives each input/output a shape.
  OpenCvModel(cv::dnn::Net net, ModelMetadata metadata, std::vector<std::string> engine_outputs,
              std::vector<bool> input_rank_known, std::vector<bool> output_rank_known);

  const ModelMetadata& metadata() const override { return metadata_; }
  // Inputs: FP32 (read in place) or FP16 (converted to FP32), shapes as in
  // metadata except the first (batch) dim, which may be any size: OpenCV
  // re-plans the net when an input shape changes (models that bake the
  // batch size into a Reshape then fail with OpenCV's message).
  Result<NamedTensors> run(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs) override;

  // For the loader only, before the model is shared (memory, provider).
  ModelMetadata& mutable_metadata() { return metadata_; }
  // Zero-filled inputs with dynamic dims set to 1, for the warm-up forward;
  // empty when an input has an unknown rank.
  std::vector<NamedTensor> warmup_inputs() const;

 private:
  Status validate_inputs(const NamedTensors& inputs) const;

  std::mutex mu_;
  cv::dnn::Net net_;  // guarded by mu_
  ModelMetadata metadata_;
  std::vector<std::string> engine_outputs_;
  std::vector<bool> input_rank_known_;
  std::vector<bool> output_rank_known_;
};

// A one-line message from an OpenCV exception (OpenCV's are multi-line).
std::string cv_message(const cv::Exception& e);

}  // namespace polaris::opencv
