// The raw side of the ONNX Runtime benchmarks (bench/engines_ort,
// bench/batching): what a program using ORT directly would write. One
// session on `env`'s global thread pool, every graph optimisation, the
// model's first input and output.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/bench_common.h"

namespace polaris::bench {

class RawOrtSession {
 public:
  RawOrtSession(Ort::Env& env, const std::string& path) {
    Ort::SessionOptions so;
    so.DisablePerSessionThreads();
    so.SetGraphOptimizationLevel(ORT_ENABLE_ALL);
    session_ = std::make_unique<Ort::Session>(env, path.c_str(), so);
    Ort::AllocatorWithDefaultOptions allocator;
    input_ = session_->GetInputNameAllocated(0, allocator).get();
    output_ = session_->GetOutputNameAllocated(0, allocator).get();
  }

  std::vector<Ort::Value> run(const InputBatch& in) {
    const char* input_names[] = {input_.c_str()};
    const char* output_names[] = {output_.c_str()};
    Ort::Value value =
        Ort::Value::CreateTensor<float>(memory_, in.data.get(), in.count, in.dims.data(), in.dims.size());
    return session_->Run(Ort::RunOptions{nullptr}, input_names, &value, 1, output_names, 1);
  }

 private:
  std::unique_ptr<Ort::Session> session_;
  std::string input_, output_;
  Ort::MemoryInfo memory_ = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);
};

}  // namespace polaris::bench
