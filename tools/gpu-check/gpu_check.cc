// Loads each model given through Polaris's libtorch module on "cpu" and on
// "cuda", runs the same input on both, and prints one JSON line per model:
// the provider each load got (and any fallback reason), the largest output
// difference, and median latencies. Usage: gpu_check MODULE_DIR MODEL.pt...
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "backends/registry.h"

using namespace polaris;

namespace {

double median_ms(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: gpu_check MODULE_DIR MODEL.pt...\n";
    return 2;
  }
  BackendConfig config;
  BackendRegistry registry(config, argv[1]);
  int failures = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string path = argv[i];
    nlohmann::json record{{"model", path}};
    NamedTensors inputs;
    std::vector<std::vector<float>> outputs;
    for (const std::string provider : {"cpu", "cuda"}) {
      for (int batch : {1, 8}) {
        LoadOptions options;
        options.providers = {provider};
        auto model = registry.load(path, options);
        if (!model.ok()) {
          record[provider]["error"] = model.status().message();
          ++failures;
          continue;
        }
        const ModelMetadata& md = (*model)->metadata();
        record[provider]["provider"] = md.provider;
        if (auto it = md.extra_info.find("provider_fallback"); it != md.extra_info.end())
          record[provider]["fallback"] = it->second;
        auto input = Tensor::allocate(DataType::kFp32, Shape{batch, 3, 224, 224});
        auto values = input->mutable_values<float>();
        for (std::size_t k = 0; k < values->size(); ++k) (*values)[k] = static_cast<float>((k * 7919) % 1000) / 1000.0f;
        const NamedTensors in{{md.inputs.empty() || md.inputs[0].name.empty() ? "input" : md.inputs[0].name, *input}};
        std::vector<double> times;
        Result<NamedTensors> out = Status::Ok();
        for (int r = 0; r < 23; ++r) {  // 3 warm-up runs, 20 timed
          const auto t0 = std::chrono::steady_clock::now();
          out = (*model)->run(in, {});
          if (r >= 3) times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
          if (!out.ok()) break;
        }
        if (!out.ok()) {
          record[provider]["error"] = out.status().message();
          ++failures;
          continue;
        }
        record[provider]["p50_ms_batch_" + std::to_string(batch)] = median_ms(times);
        if (batch == 1) {
          auto v = out->front().tensor.values<float>();
          outputs.emplace_back(v->begin(), v->end());
        }
      }
    }
    if (outputs.size() == 2 && outputs[0].size() == outputs[1].size()) {
      double diff = 0, largest = 0;
      for (std::size_t k = 0; k < outputs[0].size(); ++k) {
        diff = std::max(diff, std::abs(static_cast<double>(outputs[0][k]) - outputs[1][k]));
        largest = std::max(largest, std::abs(static_cast<double>(outputs[0][k])));
      }
      record["max_abs_diff_cpu_vs_cuda"] = diff;
      record["largest_abs_output"] = largest;
      const auto argmax = [](const std::vector<float>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); };
      record["same_argmax"] = argmax(outputs[0]) == argmax(outputs[1]);
    }
    std::cout << record.dump() << std::endl;
  }
  return failures == 0 ? 0 : 1;
}
