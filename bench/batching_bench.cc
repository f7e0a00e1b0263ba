// bench/batching's executable: what the scheduler makes of concurrent
// requests (docs/performance.md, "Batching"). For each model:
//   raw      ONNX Runtime called directly (Ort::Session on the same global
//            pool of `threads` intra-op threads), one batch of B after
//            another, B in 1..32: images/s; the best B is the raw engine's
//            best offline throughput, measured again right after every
//            Polaris cell (the ratio uses that neighbour in time);
//   polaris  `concurrency` client threads, each sending one image and
//            waiting for the answer (closed loop) through ModelManager and
//            the model's scheduler, for each scheduling mode:
//              off       max_batch_size 16, no dynamic_batching: one
//                        request per execution;
//              dynamic   dynamic_batching, max_queue_delay --delay-us,
//                        preferred_batch_size the raw engine's best size
//                        (what a Triton user reads off perf_analyzer);
//              adaptive  polaris.latency_target_ms = --target-ms;
//            throughput and per-request p50/p99 latency.
// With --rounds N each cell runs N times, each time followed by the raw
// engine at its best batch: the cell reports the median of the N
// Polaris/raw ratios (and of images/s, p50 and p99), so one noisy
// second on a shared machine moves neither side alone.
// One JSON line per cell on stdout; progress on stderr.
#include <onnxruntime_cxx_api.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/bench_common.h"
#include "bench/raw_ort_session.h"
#include "runtime/model_manager.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using bench::check;

struct Args {
  std::string models_dir;
  std::string work_dir;
  std::vector<std::string> models{"mobilenetv2", "resnet50"};
  std::vector<int> concurrency{1, 4, 16};
  std::vector<std::string> modes{"off", "dynamic", "adaptive"};
  std::vector<double> target_ms{300, 2500};  // adaptive target per model, same order
  int threads = 2;
  int delay_us = 1000;
  double cell_seconds = 6;
  int min_requests = 48;
  int rounds = 1;  // Polaris cell + raw neighbour pairs per cell; medians reported
  int preferred = 0;  // dynamic's preferred_batch_size; 0: the raw engine's best
  std::size_t mmap_threshold = std::size_t{1} << 20;  // ManagerOptions::load_mmap_threshold (0: glibc's own)
};

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())));
  return v[i];
}

// The raw engine on the module's environment (ORT keeps one per process,
// with the global pool of args.threads Polaris set up).
class RawEngine {
 public:
  explicit RawEngine(const std::string& path) : session_(env_, path) {}

  // Images per second running batches of `batch` back to back for `seconds`.
  double throughput(int batch, double seconds) {
    const bench::InputBatch in(batch);
    session_.run(in);  // warm-up
    int runs = 0;
    const auto start = Clock::now();
    while (runs < 3 || std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
      session_.run(in);
      ++runs;
    }
    return runs * batch / std::chrono::duration<double>(Clock::now() - start).count();
  }

 private:
  Ort::Env env_;
  bench::RawOrtSession session_;
};

// The raw engine's best offline throughput: batches back to back.
nlohmann::json raw_offline(RawEngine& raw, const Args& args) {
  nlohmann::json by_batch = nlohmann::json::object();
  double best = 0;
  int best_batch = 0;
  for (int batch : {1, 2, 4, 8, 16, 32}) {
    const double per_s = raw.throughput(batch, args.cell_seconds / 2);
    by_batch[std::to_string(batch)] = per_s;
    std::cerr << "  raw batch " << batch << ": " << per_s << " images/s\n";
    if (per_s > best) best = per_s, best_batch = batch;
  }
  return {{"best_images_per_s", best}, {"best_batch", best_batch}, {"images_per_s_by_batch", by_batch}};
}

std::string config_for(const std::string& mode, double target_ms, int delay_us, int preferred) {
  std::string c = "max_batch_size: 16\n";
  if (mode == "dynamic")
    c += "dynamic_batching { max_queue_delay_microseconds: " + std::to_string(delay_us) +
         " preferred_batch_size: [" + std::to_string(std::min(preferred, 16)) + "] }\n";
  if (mode == "adaptive")
    c += "parameters { key: \"polaris.latency_target_ms\" value { string_value: \"" + std::to_string(target_ms) +
         "\" } }\n";
  return c;
}

nlohmann::json closed_loop(ModelManager& manager, const std::string& name, int concurrency, const Args& args) {
  const bench::InputBatch image(1);
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(concurrency));
  std::atomic<int> done{0};
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&, c] {
      auto handle = check(manager.acquire(name), "acquire " + name);
      const NamedTensors inputs{{handle.metadata().inputs.at(0).name, image.tensor()}};
      while (!stop) {
        const auto t0 = Clock::now();
        check(handle.run(inputs), "infer " + name);
        latencies[static_cast<std::size_t>(c)].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        ++done;
      }
    });
  }
  while (std::chrono::duration<double>(Clock::now() - start).count() < args.cell_seconds || done < args.min_requests)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  return {{"requests", all.size()},
          {"images_per_s", static_cast<double>(all.size()) / seconds},
          {"p50_ms", pct(all, 50)},
          {"p99_ms", pct(all, 99)}};
}

double median(std::vector<double> v) { return pct(std::move(v), 50); }

// One cell: `args.rounds` pairs of (Polaris closed loop, the raw engine's
// best batch right after it). The machine's speed drifts, so each round's
// Polaris figure is compared with its neighbour in time, and the cell
// reports medians over the rounds.
//
// A dynamic cell also measures the raw engine at the preferred batch size
// when that differs from its best (16 one-image clients can never form the
// best batch of 32): `ratio_same_batch` separates the scheduler's own cost
// from the engine's gain at sizes the load cannot reach.
nlohmann::json measure_cell(ModelManager& manager, RawEngine& raw, const std::string& mode, int concurrency,
                            int best_batch, int preferred, const Args& args) {
  const bool same_batch = mode == "dynamic" && preferred != best_batch;
  std::vector<double> images, raw_images, ratios, same_ratios, p50, p99;
  nlohmann::json rounds = nlohmann::json::array();
  std::size_t requests = 0;
  for (int r = 0; r < args.rounds; ++r) {
    nlohmann::json one = closed_loop(manager, mode, concurrency, args);
    const double raw_best = raw.throughput(best_batch, args.cell_seconds / 2);
    one["raw_best_adjacent_images_per_s"] = raw_best;
    one["ratio"] = one["images_per_s"].get<double>() / raw_best;
    images.push_back(one["images_per_s"]);
    raw_images.push_back(raw_best);
    ratios.push_back(one["ratio"]);
    if (same_batch) {
      const double raw_same = raw.throughput(preferred, args.cell_seconds / 2);
      one["raw_same_batch_images_per_s"] = raw_same;
      same_ratios.push_back(one["images_per_s"].get<double>() / raw_same);
    }
    p50.push_back(one["p50_ms"]);
    p99.push_back(one["p99_ms"]);
    requests += one["requests"].get<std::size_t>();
    if (args.rounds > 1)
      std::cerr << "    round " << r + 1 << ": ratio " << ratios.back()
                << (same_batch ? ", same batch " + std::to_string(same_ratios.back()) : "") << "\n";
    rounds.push_back(std::move(one));
  }
  nlohmann::json cell = {{"requests", requests},
                         {"images_per_s", median(images)},
                         {"raw_best_adjacent_images_per_s", median(raw_images)},
                         {"ratio", median(ratios)},
                         {"p50_ms", median(p50)},
                         {"p99_ms", median(p99)}};
  if (same_batch) cell["ratio_same_batch"] = median(same_ratios);
  if (args.rounds > 1) cell["rounds"] = std::move(rounds);
  return cell;
}

int run(int argc, char** argv) {
  Args args;
  CLI::App app{"Polaris batching benchmark (docs/performance.md, Batching)"};
  app.add_option("--models-dir", args.models_dir, "build/models")->required();
  app.add_option("--work-dir", args.work_dir, "scratch folder")->required();
  app.add_option("--models", args.models, "vision/<name>.onnx models");
  app.add_option("--concurrency", args.concurrency);
  app.add_option("--modes", args.modes);
  app.add_option("--target-ms", args.target_ms, "adaptive latency target per model, in --models order");
  app.add_option("--threads", args.threads, "engine intra-op threads");
  app.add_option("--delay-us", args.delay_us, "dynamic batching max_queue_delay_microseconds");
  app.add_option("--cell-seconds", args.cell_seconds);
  app.add_option("--min-requests", args.min_requests);
  app.add_option("--rounds", args.rounds, "Polaris/raw pairs per cell (medians reported)")->check(CLI::Range(1, 99));
  app.add_option("--preferred", args.preferred, "dynamic's preferred_batch_size (0: the raw engine's best)");
  app.add_option("--mmap-threshold", args.mmap_threshold,
                 "the manager's load-time mmap threshold in bytes; 0 leaves glibc's dynamic thresholds");
  CLI11_PARSE(app, argc, argv);
  if (args.target_ms.size() < args.models.size()) args.target_ms.resize(args.models.size(), args.target_ms.back());

  BackendConfig backends;
  backends.threads = {args.threads, 1, false};
  backends.cache_dir = (fs::path(args.work_dir) / "cache").string();
  BackendRegistry registry(backends);
  for (std::size_t m = 0; m < args.models.size(); ++m) {
    const std::string& model = args.models[m];
    const fs::path file = fs::absolute(fs::path(args.models_dir) / "vision" / (model + ".onnx"));
    // The engine module (and ORT's one environment, with its global pool of
    // args.threads) starts with a first Polaris load; the raw side then uses it.
    if (m == 0) {
      LoadOptions cpu;
      cpu.providers = {"cpu"};
      check(registry.load(file.string(), cpu), "engine start-up");
    }
    std::cerr << model << ": raw engine offline\n";
    RawEngine raw_engine(file.string());
    nlohmann::json raw = raw_offline(raw_engine, args);
    const int best_batch = raw["best_batch"].get<int>();
    std::cout << nlohmann::json{{"model", model}, {"kind", "raw"}, {"threads", args.threads}, {"raw", raw}}.dump()
              << std::endl;
    const fs::path repo = fs::path(args.work_dir) / ("repo-" + model);
    fs::remove_all(repo);
    for (const std::string& mode : args.modes) {
      fs::create_directories(repo / mode / "1");
      fs::create_symlink(file, repo / mode / "1" / "model.onnx");
      std::ofstream(repo / mode / "config.pbtxt")
          << config_for(mode, args.target_ms[m], args.delay_us, args.preferred > 0 ? args.preferred : best_batch);
    }
    ManagerOptions options;
    options.repository = repo.string();
    options.mode = ControlMode::kNone;  // all loaded before measuring
    options.load_defaults.providers = {"cpu"};
    options.load_mmap_threshold = args.mmap_threshold;
    auto manager = check(ModelManager::create(options, registry), "manager");
    for (int c : args.concurrency) {
      for (const std::string& mode : args.modes) {  // modes interleaved at each concurrency
        std::cerr << model << ": " << mode << " concurrency " << c << "\n";
        const int preferred = std::min(args.preferred > 0 ? args.preferred : best_batch, 16);
        nlohmann::json cell = measure_cell(*manager, raw_engine, mode, c, best_batch, preferred, args);
        cell.update({{"model", model}, {"kind", "polaris"}, {"mode", mode}, {"concurrency", c},
                     {"threads", args.threads}, {"target_ms", mode == "adaptive" ? args.target_ms[m] : 0.0},
                     {"delay_us", mode == "dynamic" ? args.delay_us : 0},
                     {"preferred", mode == "dynamic" ? preferred : 0}});
        auto stats = check(manager->statistics(mode), "statistics");
        nlohmann::json batches = nlohmann::json::object();
        for (const auto& [size, b] : stats.front().stats.batch) batches[std::to_string(size)] = b.compute_infer.count;
        cell["executions_by_batch_size"] = batches;  // cumulative over the concurrency levels so far
        std::cout << cell.dump() << std::endl;
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace polaris

int main(int argc, char** argv) { return polaris::run(argc, argv); }
