// bench/providers: each provider's latency for a model (one engine thread,
// batch 1, interleaved rounds, medians) and what the measured provider
// choice (runtime/provider_choice.h) picks for it, on this machine.
//
// Providers: the auto candidates (ONNX Runtime CPU, WebGPU, CUDA, MIGraphX;
// OpenCV OpenCL) plus OpenCV on the CPU for ONNX models, and the engine's
// own providers for TorchScript models (auto does not apply there). Inputs:
// the model's default warm-up request (dynamic dims 1), floats filled with
// fixed pseudo-random values in [0, 1). One JSON record per line on stdout;
// bench/providers turns them into the table in docs/performance.md.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>

#include "backends/registry.h"
#include "core/npy.h"
#include "runtime/model_config.h"
#include "runtime/model_loader.h"
#include "runtime/provider_choice.h"
#include "runtime/warmup.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void progress(const std::string& text) { std::cerr << text << std::endl; }

struct Side {
  std::string label;  // "onnxruntime:cpu"
  std::unique_ptr<Model> model;
  std::vector<double> ms;
};

// The warm-up request, FP32 inputs refilled with fixed pseudo-random values.
Result<NamedTensors> bench_inputs(const Model& model) {
  POLARIS_ASSIGN_OR_RETURN(auto samples,
                           warmup_samples(complete_model_config({}, model.metadata()), model.metadata(), ""));
  if (samples.empty()) return Unavailable("input types unknown before the first request");
  NamedTensors inputs = std::move(samples.front().inputs);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (auto& [input, tensor] : inputs) {
    if (tensor.dtype() != DataType::kFp32) continue;
    float* f = static_cast<float*>(tensor.mutable_data());
    for (std::size_t i = 0; i < tensor.byte_size() / sizeof(float); ++i) f[i] = uniform(rng);
  }
  return inputs;
}

// `file`'s first row as a batch of one (test vectors hold many).
Result<Tensor> first_row(const std::string& file) {
  POLARIS_ASSIGN_OR_RETURN(Tensor t, read_npy(file));
  if (t.shape().rank() == 0 || t.shape()[0] <= 1) return t;
  std::vector<int64_t> dims = t.shape().dims();
  const std::size_t row = t.byte_size() / static_cast<std::size_t>(dims[0]);
  dims[0] = 1;
  return Tensor::copy_of(t.dtype(), Shape(dims), t.data(), row);
}

int run(int argc, char** argv) {
  CLI::App app{"Per-provider latency and the auto choice (bench/providers)"};
  std::vector<std::string> models;
  int rounds = 21, warmup = 3, cap_s = 90;
  std::string work_dir;
  std::vector<std::string> input_files;
  app.add_option("--model", models, "NAME=PATH (repeat)")->required();
  app.add_option("--input", input_files,
                 "MODEL=INPUT=FILE.npy: the input for a model whose types are unknown before a request (TorchScript); "
                 "its first row is used");
  app.add_option("--rounds", rounds, "Interleaved rounds (one run per provider each)");
  app.add_option("--warmup", warmup, "Untimed runs per provider first");
  app.add_option("--cap-s", cap_s, "Stop a model's rounds after this many seconds (at least 5 rounds)");
  app.add_option("--work-dir", work_dir, "Cache folder for the auto choice (removed first)")->required();
  CLI11_PARSE(app, argc, argv);

  fs::remove_all(work_dir);
  BackendConfig config;
  config.threads = EngineThreads{1, 1, false};
  config.cache_dir = work_dir;
  BackendRegistry registry(config);

  for (const std::string& spec : models) {
    const auto eq = spec.find('=');
    const std::string name = spec.substr(0, eq), path = spec.substr(eq + 1);
    auto backend = registry.backend_for(path);
    if (!backend.ok()) return progress("error: " + backend.status().message()), 1;

    // The sides: auto's candidates, plus OpenCV's CPU for ONNX files; for
    // models auto does not apply to, the engine's own providers.
    std::vector<std::string> skipped;
    std::vector<ProviderCandidate> sides = provider_candidates(registry, path, {}, skipped);
    if (sides.empty()) {
      for (const auto& p : (*backend)->available_providers()) sides.push_back({*backend, p});
    } else if (fs::path(path).extension() == ".onnx") {
      if (auto cv = registry.get("opencv"); cv.ok()) sides.push_back({*cv, "cpu"});
    }

    std::vector<Side> loaded;
    NamedTensors inputs;
    for (const auto& c : sides) {
      const std::string label = std::string(c.backend->name()) + ":" + c.provider;
      LoadOptions o;
      o.providers = {c.provider};
      auto model = c.backend->load(path, o);
      if (!model.ok()) {
        progress(name + " " + label + ": not loaded: " + model.status().message());
        continue;
      }
      if ((*model)->metadata().extra_info.count("provider_fallback")) {
        progress(name + " " + label + ": fell back: " + (*model)->metadata().extra_info.at("provider_fallback"));
        continue;
      }
      for (const std::string& f : input_files) {
        const auto a = f.find('='), b = f.find('=', a + 1);
        if (f.substr(0, a) != name || b == std::string::npos) continue;
        auto t = first_row(f.substr(b + 1));
        if (!t.ok()) return progress("error: " + t.status().message()), 1;
        inputs.push_back({f.substr(a + 1, b - a - 1), std::move(*t)});
      }
      if (inputs.empty()) {
        auto in = bench_inputs(**model);
        if (!in.ok()) return progress("error: " + name + ": " + in.status().message()), 1;
        inputs = std::move(*in);
      }
      for (int i = 0; i < warmup; ++i)
        if (auto r = (*model)->run(inputs, {}); !r.ok()) return progress("error: " + r.status().message()), 1;
      loaded.push_back({label, std::move(model).value(), {}});
    }

    // Interleaved: every round runs each provider once, the first one
    // rotating, so slow drift of the machine's load hits all alike.
    const auto start = Clock::now();
    int done = 0;
    for (; done < rounds; ++done) {
      if (done >= 5 && Clock::now() - start > std::chrono::seconds(cap_s)) break;
      for (std::size_t k = 0; k < loaded.size(); ++k) {
        Side& s = loaded[(k + done) % loaded.size()];
        const auto t0 = Clock::now();
        if (auto r = s.model->run(inputs, {}); !r.ok()) return progress("error: " + r.status().message()), 1;
        s.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
    }
    nlohmann::json record = {{"model", name}, {"path", path}, {"rounds", done}, {"skipped", skipped}};
    for (Side& s : loaded) {
      std::sort(s.ms.begin(), s.ms.end());
      record["providers"][s.label] = {{"p50_ms", median(s.ms)},
                                      {"p90_ms", s.ms[std::min(s.ms.size() - 1, s.ms.size() * 9 / 10)]}};
      s.model.reset();
    }

    // The auto choice as the server makes it: a first load measures, a
    // second reads the cached decision.
    InstanceRequest request;
    request.model_name = name;
    request.path = path;
    request.model_dir = fs::path(path).parent_path().string();
    for (const char* pass : {"first_load", "second_load"}) {
      auto instance = load_model_instance(registry, request);
      if (!instance.ok()) return progress("error: auto load of " + name + ": " + instance.status().message()), 1;
      const auto& info = instance->metadata.extra_info;
      record["auto"][pass] = {{"provider", instance->metadata.provider},
                              {"load_ms", instance->load_duration.count()},
                              {"provider_auto", info.count("provider_auto") ? info.at("provider_auto") : ""},
                              {"source", info.count("provider_auto_source") ? info.at("provider_auto_source") : ""}};
    }
    std::cout << record.dump() << std::endl;
    progress(name + ": done (" + std::to_string(done) + " rounds)");
  }
  return 0;
}

}  // namespace
}  // namespace polaris

int main(int argc, char** argv) {
  try {
    return polaris::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 1;
  }
}
