// bench/engines_torch: Polaris's libtorch backend (BackendRegistry +
// Model::run, as the server uses it) against torch::jit called directly,
// interleaved in one process. Prints JSON lines; bench/engines makes tables.
//
// Both sides use the same libtorch_cpu.so (the executable and the module are
// linked against the same files), so they share libtorch's global thread
// pools: Polaris's module sets 1 intra-op and 1 inter-op thread when created,
// and the raw side sets the same again. The raw side mirrors what the torch
// backend does at optimization level all (backends/torch/torch_backend.cc):
// jit::load without debug files, eval, freeze, optimize_for_inference; runs
// under InferenceMode.
#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch/version.h>

#include <malloc.h>

#include <filesystem>

#include "backends/registry.h"
#include "bench/bench_common.h"

namespace polaris::bench {
namespace {

namespace fs = std::filesystem;
constexpr const char* kEngine = "torch";

torch::jit::Module raw_load(const std::string& path) {
  torch::jit::Module module = torch::jit::load(path, c10::Device(c10::kCPU), /*load_debug_files=*/false);
  module.eval();
  module = torch::jit::freeze(module);
  return torch::jit::optimize_for_inference(module);
}

at::Tensor raw_run(torch::jit::Module& module, const InputBatch& in) {
  c10::InferenceMode inference;
  at::Tensor input = at::from_blob(in.data.get(), in.dims, at::TensorOptions().dtype(at::kFloat));
  return module.forward({input}).toTensor();
}

void bench_inference(BackendRegistry& registry, const std::string& model, const std::string& path,
                     const Options& options) {
  torch::jit::Module raw = raw_load(path);
  auto polaris = check(registry.load(path, polaris_load_options(options)), "Polaris load " + path);
  const std::string input_name = polaris->metadata().inputs.at(0).name;
  for (int batch : options.batches) {
    progress("torch " + model + " batch " + std::to_string(batch) + ": inference");
    const InputBatch in(batch);
    const NamedTensors inputs{{input_name, in.tensor()}};
    const std::vector<std::string> all;
    at::Tensor raw_out = raw_run(raw, in);
    if (raw_out.layout() != at::kStrided) raw_out = raw_out.to_dense();
    raw_out = raw_out.contiguous();
    auto pol_out = check(polaris->run(inputs, all), "Polaris run");
    const double diff = max_abs_diff(raw_out.data_ptr<float>(),
                                     static_cast<const float*>(pol_out.at(0).tensor.data()),
                                     static_cast<std::size_t>(raw_out.numel()));
    auto samples = compare_inference([&] { raw_run(raw, in); },
                                     [&] { check(polaris->run(inputs, all), "Polaris run"); }, options);
    emit(inference_record(kEngine, model, batch, samples, diff));
  }
}

void bench_load(BackendRegistry& registry, const std::string& model, const std::string& path,
                const Options& options) {
  progress("torch " + model + ": load");
  auto timed = [](auto&& load) {
    const double t0 = now_ms();
    auto loaded = load();
    return now_ms() - t0;  // `loaded` is destroyed after the clock stops
  };
  const std::vector<LoadVariant> variants{
      {"raw_cold", [&] { return timed([&] { return raw_load(path); }); }},
      // A diagnostic: the raw load plus the malloc_trim(0) that Polaris's load
      // makes after freezing (release_free_memory, for its RSS measurement).
      {"raw_cold_trim",
       [&] {
         return timed([&] {
           auto module = raw_load(path);
           malloc_trim(0);
           return module;
         });
       }},
      {"polaris_cold",
       [&] {
         return timed([&] { return check(registry.load(path, polaris_load_options(options)), "Polaris load"); });
       }},
  };
  emit_loads(kEngine, model, variants, compare_loads(variants, options));
}

int run(int argc, char** argv) {
  Options options = parse_options(argc, argv, "Polaris libtorch backend vs raw torch::jit");
  BackendRegistry registry(BackendConfig{bench_threads(), "", nullptr});
  Backend* backend = check(registry.get(kEngine), "Polaris torch module");  // sets the thread budget first
  at::set_num_threads(bench_threads().intra_op);
  emit({{"kind", "info"},
        {"engine", kEngine},
        {"polaris_engine_version", backend->engine_version()},
        {"raw_engine_version", TORCH_VERSION},
        {"threads", "libtorch global pools shared by both sides: intra-op " + std::to_string(at::get_num_threads()) +
                        ", inter-op " + std::to_string(at::get_num_interop_threads())},
        {"providers", options.providers},
        {"module_dir", registry.module_dir()}});
  for (const auto& model : options.models) {
    const std::string path = (fs::path(options.models_dir) / (model + ".pt")).string();
    if (!options.no_inference) bench_inference(registry, model, path, options);
    if (!options.no_load) bench_load(registry, model, path, options);
  }
  cleanup(options);
  return 0;
}

}  // namespace
}  // namespace polaris::bench

int main(int argc, char** argv) { return polaris::bench::guarded_main(polaris::bench::run, argc, argv); }
