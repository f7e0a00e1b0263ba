// bench/engines_ort: Polaris's ONNX Runtime backend (BackendRegistry +
// Model::run, as the server uses it) against Ort::Session called directly,
// interleaved in one process. Prints JSON lines; bench/engines makes tables.
//
// Both sides share one OrtEnv: ORT allows a single environment per process,
// so the raw Ort::Env below is the one Polaris's module created (global
// thread pools, 1 intra-op + 1 inter-op thread, no spinning), and raw
// sessions use it the way Polaris does (DisablePerSessionThreads).
#include <onnxruntime_cxx_api.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "backends/registry.h"
#include "bench/bench_common.h"
#include "bench/raw_ort_session.h"

namespace polaris::bench {
namespace {

namespace fs = std::filesystem;
constexpr const char* kEngine = "onnxruntime";

Ort::Env make_raw_env() {
  const EngineThreads t = bench_threads();
  Ort::ThreadingOptions threading;
  threading.SetGlobalIntraOpNumThreads(t.intra_op);
  threading.SetGlobalInterOpNumThreads(t.inter_op);
  threading.SetGlobalSpinControl(t.allow_spinning ? 1 : 0);
  return Ort::Env(threading, ORT_LOGGING_LEVEL_WARNING, "bench-raw");
}

// A Polaris load through the registry; `expect_cache` ("hit"/"miss"/"") is
// checked against the start of what the backend reports, so "cold" and
// "cached" mean it.
std::unique_ptr<Model> polaris_load(BackendRegistry& registry, const std::string& path, const Options& options,
                                    const std::string& expect_cache) {
  auto model = check(registry.load(path, polaris_load_options(options)), "Polaris load " + path);
  const auto& info = model->metadata().extra_info;
  const auto it = info.find("optimized_cache");
  const std::string got = it == info.end() ? "" : it->second;
  if (got.rfind(expect_cache, 0) != 0 || got.empty() != expect_cache.empty()) {
    progress("error: " + path + ": optimized cache '" + got + "', expected '" + expect_cache + "'");
    std::exit(1);
  }
  return model;
}

// A miss writes the cache entry in a background thread: wait for it (untimed)
// so it neither leaks into the next timed load nor leaves the cache empty.
void wait_for_cache_entry(const fs::path& cache) {
  for (int i = 0; i < 1200; ++i) {
    if (fs::exists(cache))
      for (const auto& e : fs::directory_iterator(cache))
        if (e.path().extension() == ".onnx") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  progress("error: no optimized model appeared in " + cache.string() + " within 60 s");
  std::exit(1);
}

void bench_inference(Ort::Env& env, BackendRegistry& registry, const std::string& model, const std::string& path,
                     const Options& options) {
  RawOrtSession raw(env, path);
  polaris_load(registry, fresh_link(options, path), options, "miss");  // fills the cache
  wait_for_cache_entry(fs::path(options.work_dir) / "cache" / "ort-optimized");
  auto polaris = polaris_load(registry, fresh_link(options, path), options, "hit");  // as a restarted server
  const std::string input_name = polaris->metadata().inputs.at(0).name;
  for (int batch : options.batches) {
    progress("onnxruntime " + model + " batch " + std::to_string(batch) + ": inference");
    const InputBatch in(batch);
    const NamedTensors inputs{{input_name, in.tensor()}};
    const std::vector<std::string> all;
    auto raw_out = raw.run(in);
    auto pol_out = check(polaris->run(inputs, all), "Polaris run");
    const auto count = raw_out[0].GetTensorTypeAndShapeInfo().GetElementCount();
    const double diff = max_abs_diff(raw_out[0].GetTensorData<float>(),
                                     static_cast<const float*>(pol_out.at(0).tensor.data()), count);
    auto samples = compare_inference([&] { raw.run(in); },
                                     [&] { check(polaris->run(inputs, all), "Polaris run"); }, options);
    emit(inference_record(kEngine, model, batch, samples, diff));
  }
}

void bench_load(Ort::Env& env, BackendRegistry& cached, BackendRegistry& uncached, const std::string& model,
                const std::string& path, const Options& options) {
  progress("onnxruntime " + model + ": load");
  const fs::path cache = fs::path(options.work_dir) / "cache" / "ort-optimized";
  auto timed = [](auto&& load) {
    const double t0 = now_ms();
    auto loaded = load();
    return now_ms() - t0;  // `loaded` is destroyed after the clock stops
  };
  auto fill_cache = [&] {
    if (!fs::exists(cache) || fs::is_empty(cache)) polaris_load(cached, fresh_link(options, path), options, "miss");
    wait_for_cache_entry(cache);
  };
  const std::vector<LoadVariant> variants{
      {"raw_cold", [&] { return timed([&] { return std::make_unique<RawOrtSession>(env, path); }); }},
      {"polaris_cold",
       [&] {
         fs::remove_all(cache);
         const std::string link = fresh_link(options, path);
         const double ms = timed([&] { return polaris_load(cached, link, options, "miss"); });
         wait_for_cache_entry(cache);
         return ms;
       }},
      {"polaris_nocache",
       [&] {
         const std::string link = fresh_link(options, path);
         return timed([&] { return polaris_load(uncached, link, options, ""); });
       }},
      {"polaris_cached",
       [&] {
         fill_cache();
         const std::string link = fresh_link(options, path);
         return timed([&] { return polaris_load(cached, link, options, "hit"); });
       }},
      // As a reload in a running server, by the model's own path.
      {"polaris_cached_memo",
       [&] {
         fill_cache();
         return timed([&] { return polaris_load(cached, path, options, "hit"); });
       }},
  };
  emit_loads(kEngine, model, variants, compare_loads(variants, options));
}

int run(int argc, char** argv) {
  Options options = parse_options(argc, argv, "Polaris ONNX Runtime backend vs raw Ort::Session");
  const std::string cache_dir = (fs::path(options.work_dir) / "cache").string();
  BackendRegistry cached(BackendConfig{bench_threads(), cache_dir, nullptr});
  BackendRegistry uncached(BackendConfig{bench_threads(), "", nullptr});
  Backend* backend = check(cached.get(kEngine), "Polaris onnxruntime module");
  Ort::Env env = make_raw_env();  // after Polaris's: the same OrtEnv (see the top of this file)
  emit({{"kind", "info"},
        {"engine", kEngine},
        {"polaris_engine_version", backend->engine_version()},
        {"raw_engine_version", Ort::GetVersionString()},
        {"threads", "ORT global thread pools shared by both sides: 1 intra-op, 1 inter-op, no spinning"},
        {"providers", options.providers},
        {"module_dir", cached.module_dir()}});
  for (const auto& model : options.models) {
    const std::string path = (fs::path(options.models_dir) / (model + ".onnx")).string();
    fs::remove_all(cache_dir);
    if (!options.no_inference) bench_inference(env, cached, model, path, options);
    if (!options.no_load) bench_load(env, cached, uncached, model, path, options);
  }
  cleanup(options);
  return 0;
}

}  // namespace
}  // namespace polaris::bench

int main(int argc, char** argv) { return polaris::bench::guarded_main(polaris::bench::run, argc, argv); }
