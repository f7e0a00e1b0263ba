// bench/runtime's executable: the model manager's costs, measured through
// ModelManager with the real engines (docs/performance.md, "Runtime").
//
//   first-request  a lazily loaded model's first request (load, warm-up,
//                  run) vs a request to the model once loaded;
//   cycles         RSS after each of N load/unload cycles of one model;
//   eviction       requests alternating over three models under a budget
//                  that holds two (every request evicts and loads) vs the
//                  same requests when all three fit;
//   infer          the median request on a loaded model (bench/runtime runs
//                  it with and without the fixed mmap threshold: its cost).
// One JSON line per measurement on stdout; progress on stderr. Links no
// engine: the modules come from <build>/lib, as in the server.
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "core/process_memory.h"
#include "runtime/model_manager.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode;
  std::string models_dir;
  std::vector<std::string> models{"vision/mobilenetv2.onnx", "vision/resnet50.onnx"};
  std::string model = "vision/resnet50.onnx";
  int reps = 7;
  int cycles = 100;
  int batch = 1;
  std::size_t mmap_threshold = std::size_t{1} << 20;
  std::string work_dir;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

template <typename T>
T check(Result<T> r, const std::string& what) {
  if (!r.ok()) {
    std::cerr << "error: " << what << ": " << r.status().message() << "\n";
    std::exit(1);
  }
  return std::move(r).value();
}
void check(const Status& s, const std::string& what) {
  if (!s.ok()) {
    std::cerr << "error: " << what << ": " << s.message() << "\n";
    std::exit(1);
  }
}

// A repository in the work dir: <repo>/<name>/1/model.<ext> -> the model.
std::string make_repository(const Args& args, const std::string& repo_name,
                            const std::vector<std::pair<std::string, std::string>>& models) {
  const fs::path repo = fs::path(args.work_dir) / repo_name;
  fs::remove_all(repo);
  for (const auto& [name, rel] : models) {
    fs::create_directories(repo / name / "1");
    fs::create_symlink(fs::absolute(fs::path(args.models_dir) / rel),
                       repo / name / "1" / ("model" + fs::path(rel).extension().string()));
  }
  return repo.string();
}

// Inputs for a [batch,3,224,224] vision model: constant 0.5.
NamedTensors image_inputs(const ModelHandle& handle, int batch = 1) {
  NamedTensors inputs;
  for (const TensorInfo& input : handle.metadata().inputs) {
    auto t = check(Tensor::allocate(DataType::kFp32, Shape{batch, 3, 224, 224}), "input");
    auto* data = static_cast<float*>(t.mutable_data());
    std::fill(data, data + t.byte_size() / sizeof(float), 0.5f);
    inputs.push_back({input.name.empty() ? "input" : input.name, std::move(t)});
  }
  return inputs;
}

ManagerOptions manager_options(const Args& args, const std::string& repo) {
  ManagerOptions options;
  options.repository = repo;
  options.load_mmap_threshold = args.mmap_threshold;
  options.load_defaults.providers = {"cpu"};  // no GPU probes in the measurements
  return options;
}

BackendConfig backend_config(const Args& args) {
  BackendConfig config;
  config.threads = {1, 1, false};
  config.cache_dir = (fs::path(args.work_dir) / "cache").string();
  return config;
}

int first_request(const Args& args) {
  BackendRegistry registry(backend_config(args));
  for (const std::string& rel : args.models) {
    const std::string repo = make_repository(args, "first", {{"m", rel}});
    {  // untimed: engine start-up and the optimized-model cache entry
      auto m = check(ModelManager::create(manager_options(args, repo), registry), "manager");
      auto h = check(m->acquire("m"), "load");
      check(h.run(image_inputs(h)), "run");
    }
    std::vector<double> lazy, loaded, load_only;
    for (int rep = 0; rep < args.reps; ++rep) {
      auto m = check(ModelManager::create(manager_options(args, repo), registry), "manager");
      auto start = Clock::now();
      {
        auto h = check(m->acquire("m"), "lazy load");
        check(h.run(image_inputs(h)), "run");
      }
      lazy.push_back(ms_since(start));
      load_only.push_back(static_cast<double>(m->index().at(0).last_load_duration.count()));
      start = Clock::now();
      {
        auto h = check(m->acquire("m"), "acquire");
        check(h.run(image_inputs(h)), "run");
      }
      loaded.push_back(ms_since(start));
    }
    nlohmann::json record{{"bench", "first_request"}, {"model", rel},      {"reps", args.reps},
                          {"lazy_ms", median(lazy)},  {"loaded_ms", median(loaded)},
                          {"load_ms", median(load_only)}};
    std::cout << record.dump() << std::endl;
    std::cerr << rel << ": first request " << median(lazy) << " ms, loaded " << median(loaded) << " ms\n";
  }
  return 0;
}

int cycles(const Args& args) {
  // No optimized-model cache here: a cache miss saves the graph from a
  // second session in the background, which would inflate the first load's
  // RSS, the baseline of this measurement.
  BackendConfig config = backend_config(args);
  config.cache_dir.clear();
  BackendRegistry registry(config);
  const std::string repo = make_repository(args, "cycles", {{"m", args.model}});
  ManagerOptions options = manager_options(args, repo);
  options.mode = ControlMode::kExplicit;
  auto m = check(ModelManager::create(options, registry), "manager");
  std::vector<uint64_t> rss;
  for (int cycle = 0; cycle < args.cycles; ++cycle) {
    if (cycle > 0) check(m->unload("m"), "unload");
    check(m->load("m"), "load");
    {
      auto h = check(m->acquire("m"), "acquire");
      check(h.run(image_inputs(h)), "run");
    }
    rss.push_back(process_rss_bytes());
    if ((cycle + 1) % 10 == 0) std::cerr << "cycle " << cycle + 1 << ": RSS " << format_byte_size(rss.back()) << "\n";
  }
  check(m->unload("m"), "unload");
  const uint64_t unloaded = process_rss_bytes();
  nlohmann::json record{{"bench", "cycles"},
                        {"model", args.model},
                        {"cycles", args.cycles},
                        {"mmap_threshold", args.mmap_threshold},
                        {"allocator", getenv("LD_PRELOAD") ? fs::path(getenv("LD_PRELOAD")).filename().string()
                                                           : "glibc"},
                        {"rss_first", rss.front()},
                        {"rss_10", rss.at(std::min<std::size_t>(9, rss.size() - 1))},
                        {"rss_last", rss.back()},
                        {"rss_max", *std::max_element(rss.begin(), rss.end())},
                        {"rss_unloaded", unloaded}};
  std::cout << record.dump() << std::endl;
  return 0;
}

int eviction(const Args& args) {
  BackendRegistry registry(backend_config(args));
  const std::vector<std::pair<std::string, std::string>> three{{"a", args.model}, {"b", args.model}, {"c", args.model}};
  const std::string repo = make_repository(args, "evict", three);
  uint64_t one = 0;
  {  // one model's measured size (not the process's first load)
    auto m = check(ModelManager::create(manager_options(args, repo), registry), "manager");
    check(m->acquire("a"), "load");
    check(m->unload("a"), "unload");
    check(m->acquire("b"), "load");
    one = m->index().at(1).resident_bytes;
  }
  auto run_sequence = [&](uint64_t budget, std::vector<double>& latencies, uint64_t& evictions) {
    ManagerOptions options = manager_options(args, repo);
    options.memory_limits["cpu"] = budget;
    auto m = check(ModelManager::create(options, registry), "manager");
    for (const char* name : {"a", "b", "c"}) check(m->acquire(name), "first load");  // untimed
    for (int i = 0; i < args.reps * 3; ++i) {
      const std::string name(1, static_cast<char>('a' + i % 3));
      const auto start = Clock::now();
      auto h = check(m->acquire(name), "acquire");
      check(h.run(image_inputs(h)), "run");
      latencies.push_back(ms_since(start));
    }
    evictions = m->counters().evictions;
  };
  std::vector<double> evicting, resident;
  uint64_t evictions_tight = 0, evictions_roomy = 0;
  run_sequence(one * 5 / 2, evicting, evictions_tight);
  run_sequence(one * 4, resident, evictions_roomy);
  nlohmann::json record{{"bench", "eviction"},
                        {"model", args.model},
                        {"requests", evicting.size()},
                        {"model_bytes", one},
                        {"evicting_ms", median(evicting)},
                        {"resident_ms", median(resident)},
                        {"evictions", evictions_tight},
                        {"evictions_roomy", evictions_roomy}};
  std::cout << record.dump() << std::endl;
  return 0;
}

int infer(const Args& args) {
  BackendRegistry registry(backend_config(args));
  const std::string repo = make_repository(args, "infer", {{"m", args.model}});
  auto m = check(ModelManager::create(manager_options(args, repo), registry), "manager");
  auto h = check(m->acquire("m"), "load");
  const NamedTensors inputs = image_inputs(h, args.batch);
  for (int i = 0; i < 3; ++i) check(h.run(inputs), "warm-up");
  std::vector<double> ms;
  for (int i = 0; i < args.reps; ++i) {
    const auto start = Clock::now();
    check(h.run(inputs), "run");
    ms.push_back(ms_since(start));
  }
  nlohmann::json record{{"bench", "infer"},  {"model", args.model},         {"batch", args.batch},
                        {"reps", args.reps}, {"mmap_threshold", args.mmap_threshold}, {"median_ms", median(ms)}};
  std::cout << record.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace polaris

int main(int argc, char** argv) {
  polaris::Args args;
  CLI::App app{"The model manager's costs (bench/runtime runs this)"};
  app.add_option("mode", args.mode, "first-request | cycles | eviction | infer")->required();
  app.add_option("--models-dir", args.models_dir)->required();
  app.add_option("--models", args.models, "first-request: model files under --models-dir");
  app.add_option("--model", args.model, "cycles, eviction: the model file");
  app.add_option("--reps", args.reps);
  app.add_option("--cycles", args.cycles);
  app.add_option("--batch", args.batch, "infer: batch size");
  app.add_option("--mmap-threshold", args.mmap_threshold, "while loading (1 MiB default); 0: glibc's default (dynamic) throughout");
  app.add_option("--work-dir", args.work_dir)->required();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  std::filesystem::create_directories(args.work_dir);
  if (args.mode == "first-request") return polaris::first_request(args);
  if (args.mode == "cycles") return polaris::cycles(args);
  if (args.mode == "eviction") return polaris::eviction(args);
  if (args.mode == "infer") return polaris::infer(args);
  std::cerr << "unknown mode " << args.mode << "\n";
  return 2;
}
