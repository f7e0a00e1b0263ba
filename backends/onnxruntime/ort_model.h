// OrtModel: one ONNX Runtime session behind the Model interface.
// Thread-safety: run() is safe from many threads (Ort::Session::Run is);
// metadata is immutable after construction.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace polaris::ort {

class OrtModel final : public Model {
 public:
  OrtModel(std::unique_ptr<Ort::Session> session, ModelMetadata metadata);

  const ModelMetadata& metadata() const override { return metadata_; }
  Result<NamedTensors> run(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs) override;

 private:
  // Checks names, dtypes and shapes against metadata before ORT sees them,
  // so errors name the tensor and say what was expected.
  Status validate_inputs(const NamedTensors& inputs) const;
  Result<Ort::Value> to_ort_value(const Tensor& tensor) const;
  Result<Tensor> from_ort_value(Ort::Value value) const;

  std::unique_ptr<Ort::Session> session_;
  ModelMetadata metadata_;
  Ort::MemoryInfo cpu_memory_;
};

}  // namespace polaris::ort
