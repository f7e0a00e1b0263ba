#include "bench/bench_common.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <random>
#include <sstream>

namespace polaris::bench {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

bool made_work_dir = false;

}  // namespace

Options parse_options(int argc, char** argv, const std::string& description) {
  Options o;
  o.models_dir = POLARIS_BENCH_MODELS_DIR;
  CLI::App app{description};
  app.add_option("--models-dir", o.models_dir, "Folder with <model>.onnx / <model>.pt")->capture_default_str();
  app.add_option("--models", o.models, "Models (file stems)")->delimiter(',')->capture_default_str();
  app.add_option("--batches", o.batches, "Batch sizes")->delimiter(',')->capture_default_str();
  app.add_option("--iters", o.iters, "Timed runs per side per round (1: strict alternation)")->capture_default_str();
  app.add_option("--rounds", o.rounds, "Raw/Polaris alternations per model and batch (0: from --side-ms)")
      ->capture_default_str();
  app.add_option("--side-ms", o.side_ms, "With --rounds 0: timed work per side")->capture_default_str();
  app.add_option("--min-rounds", o.min_rounds, "With --rounds 0: at least this many rounds")->capture_default_str();
  app.add_option("--warmup", o.warmup, "Untimed runs per side first")->capture_default_str();
  app.add_option("--load-reps", o.load_reps, "Timed loads per variant")->capture_default_str();
  app.add_flag("--no-inference", o.no_inference, "Skip the inference comparison");
  app.add_flag("--no-load", o.no_load, "Skip the load comparison");
  app.add_option("--providers", o.providers, "Polaris providers, comma-separated; 'auto': the server default")
      ->capture_default_str();
  app.add_option("--work-dir", o.work_dir, "Folder for the cache and links (default: a temp dir)");
  app.add_flag("--keep-work-dir", o.keep_work_dir, "Do not remove the temp work dir");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  if (o.work_dir.empty()) {
    std::string pattern = (fs::temp_directory_path() / "polaris-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      progress("error: cannot create a temp dir");
      std::exit(1);
    }
    o.work_dir = pattern;
    made_work_dir = true;
  }
  fs::create_directories(o.work_dir);
  return o;
}

void cleanup(const Options& options) {
  std::error_code ec;
  if (made_work_dir && !options.keep_work_dir) fs::remove_all(options.work_dir, ec);
}

LoadOptions polaris_load_options(const Options& options) {
  LoadOptions lo;
  if (options.providers != "auto") lo.providers = split(options.providers);
  lo.optimization_level = OptimizationLevel::kAll;
  return lo;
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> values) {
  if (values.empty()) return NAN;
  const std::size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  if (values.size() % 2) return values[mid];
  const double upper = values[mid];
  return (upper + *std::max_element(values.begin(), values.begin() + mid)) / 2;
}

InputBatch::InputBatch(int batch) : dims{batch, 3, 224, 224} {
  count = static_cast<std::size_t>(batch) * 3 * 224 * 224;
  data = std::shared_ptr<float[]>(new (std::align_val_t{64}) float[count],
                                  [](float* p) { ::operator delete[](p, std::align_val_t{64}); });
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (std::size_t i = 0; i < count; ++i) data[i] = uniform(rng);
}

Tensor InputBatch::tensor() const {
  return check(Tensor::borrow(DataType::kFp32, Shape(dims), data.get(), count * sizeof(float), data), "input");
}

InferenceSamples compare_inference(const std::function<void()>& raw, const std::function<void()>& polaris,
                                   const Options& options) {
  InferenceSamples s;
  double raw_once = 0;  // the last, warmest raw run sizes the rounds
  for (int i = 0; i < std::max(1, options.warmup); ++i) {
    const double t0 = now_ms();
    raw();
    raw_once = now_ms() - t0;
    polaris();
  }
  s.iters_per_round = std::max(1, options.iters);
  s.rounds = options.rounds > 0 ? options.rounds
                                : std::max(options.min_rounds,
                                           static_cast<int>(options.side_ms / (raw_once * s.iters_per_round)));
  auto timed = [&](const std::function<void()>& fn, std::vector<double>& out) {
    for (int i = 0; i < s.iters_per_round; ++i) {
      const double t0 = now_ms();
      fn();
      out.push_back(now_ms() - t0);
    }
  };
  for (int round = 0; round < s.rounds; ++round) {
    if (round % 2 == 0) {
      timed(raw, s.raw_ms);
      timed(polaris, s.polaris_ms);
    } else {
      timed(polaris, s.polaris_ms);
      timed(raw, s.raw_ms);
    }
  }
  return s;
}

std::vector<std::vector<double>> compare_loads(const std::vector<LoadVariant>& variants, const Options& options) {
  std::vector<std::vector<double>> samples(variants.size());
  for (const auto& v : variants) v.measure();  // warm-up: page cache, one-time engine set-up
  // A new random order each repetition: a load can slow the next one (the
  // cold load writes the optimized model, unloads free memory), so no
  // variant may always follow the same one.
  std::vector<std::size_t> order(variants.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(7);
  for (int rep = 0; rep < options.load_reps; ++rep) {
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t i : order) samples[i].push_back(variants[i].measure());
  }
  return samples;
}

std::string fresh_link(const Options& options, const std::string& target) {
  static int counter = 0;
  const fs::path dir = fs::path(options.work_dir) / "links" / std::to_string(++counter);
  fs::create_directories(dir);
  const fs::path link = dir / fs::path(target).filename();
  fs::create_symlink(fs::absolute(target), link);
  return link.string();
}

double max_abs_diff(const float* a, const float* b, std::size_t count) {
  double worst = 0;
  for (std::size_t i = 0; i < count; ++i) worst = std::max(worst, static_cast<double>(std::fabs(a[i] - b[i])));
  return worst;
}

void emit(const nlohmann::json& record) { std::cout << record.dump() << std::endl; }

void progress(const std::string& text) { std::cerr << text << std::endl; }

nlohmann::json inference_record(const std::string& engine, const std::string& model, int batch,
                                const InferenceSamples& samples, double diff) {
  const double raw = median(samples.raw_ms), pol = median(samples.polaris_ms);
  return {{"kind", "inference"},     {"engine", engine},         {"model", model},
          {"batch", batch},          {"raw_p50_ms", raw},        {"polaris_p50_ms", pol},
          {"ratio", pol / raw},      {"max_abs_diff", diff},     {"iters_per_round", samples.iters_per_round},
          {"rounds", samples.rounds},
          {"raw_ms", samples.raw_ms}, {"polaris_ms", samples.polaris_ms}};
}

void emit_loads(const std::string& engine, const std::string& model, const std::vector<LoadVariant>& variants,
                const std::vector<std::vector<double>>& samples) {
  for (std::size_t i = 0; i < variants.size(); ++i)
    emit({{"kind", "load"},
          {"engine", engine},
          {"model", model},
          {"variant", variants[i].name},
          {"p50_ms", median(samples[i])},
          {"samples_ms", samples[i]}});
}

int guarded_main(int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    progress(std::string("error: ") + e.what());
    return 1;
  }
}

}  // namespace polaris::bench
