// Shared by bench/engines_ort and bench/engines_torch: options, the
// interleaved timing loops and the JSON-lines output that bench/engines turns
// into tables. Includes no engine header.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace polaris::bench {

struct Options {
  std::string models_dir;
  std::vector<std::string> models{"mobilenetv2", "efficientnet_b0", "resnet50"};
  std::vector<int> batches{1, 8};
  int iters = 1;        // timed runs per side per round (1: strict alternation, paired samples)
  int rounds = 0;       // raw/Polaris alternations per model and batch; 0: from side_ms
  int side_ms = 4000;   // with rounds 0: about this much timed work per side
  int min_rounds = 12;  // with rounds 0: never fewer
  int warmup = 3;       // untimed runs per side before the rounds
  int load_reps = 9;    // timed loads per variant
  bool no_inference = false;
  bool no_load = false;
  std::string providers = "cpu";  // Polaris LoadOptions.providers; "auto": empty (the engine's static order)
  std::string work_dir;           // cache and links; empty: a fresh temp dir, removed at exit
  bool keep_work_dir = false;
};

// Parses the command line (CLI11); exits on --help or a bad flag. Creates
// work_dir when none is given.
Options parse_options(int argc, char** argv, const std::string& description);
// Removes a temp work_dir made by parse_options (unless --keep-work-dir).
void cleanup(const Options& options);

// The Polaris side's thread budget: what the benchmark compares at.
inline EngineThreads bench_threads() { return EngineThreads{1, 1, false}; }
LoadOptions polaris_load_options(const Options& options);

double now_ms();
double median(std::vector<double> values);

// Inputs of shape [batch,3,224,224]: deterministic pseudo-random floats in
// [0,1), 64-byte aligned, shared by both sides.
struct InputBatch {
  explicit InputBatch(int batch);
  std::vector<int64_t> dims;
  std::shared_ptr<float[]> data;
  std::size_t count = 0;
  Tensor tensor() const;  // a Polaris view of `data`
};

// Runs `raw` and `polaris` (each one inference) alternately: warm-up, then
// rounds of `iters` runs per side, the side going first alternating by round
// (with iters 1, samples i of both sides are neighbours in time: pairs that
// share the machine's noise). Returns every timed run in ms.
struct InferenceSamples {
  int iters_per_round = 0;
  int rounds = 0;
  std::vector<double> raw_ms, polaris_ms;
};
InferenceSamples compare_inference(const std::function<void()>& raw, const std::function<void()>& polaris,
                                   const Options& options);

// A way to load a model: `measure` prepares (untimed), loads (timed), unloads
// (untimed) and returns the load time in ms.
struct LoadVariant {
  std::string name;
  std::function<double()> measure;
};
// One untimed warm-up per variant, then `load_reps` repetitions, each in a
// new random order. Returns samples per variant, sample i from repetition i.
std::vector<std::vector<double>> compare_loads(const std::vector<LoadVariant>& variants, const Options& options);

// A new symlink to `target` in work_dir, as a fresh path: per-path memos in a
// backend (the ORT cache key's file hash) then behave as in a fresh process.
std::string fresh_link(const Options& options, const std::string& target);

// Largest |a - b| over two float buffers of `count` elements (a sanity check
// that both sides computed the same thing).
double max_abs_diff(const float* a, const float* b, std::size_t count);

// Records and progress: JSON lines on stdout, text on stderr.
void emit(const nlohmann::json& record);
void progress(const std::string& text);
// Runs `run` and turns an escaping exception into "error: ..." and exit 1.
int guarded_main(int (*run)(int, char**), int argc, char** argv);
nlohmann::json inference_record(const std::string& engine, const std::string& model, int batch,
                                const InferenceSamples& samples, double diff);
void emit_loads(const std::string& engine, const std::string& model, const std::vector<LoadVariant>& variants,
                const std::vector<std::vector<double>>& samples);

// Exits with a message when `result` failed.
template <typename T>
T check(Result<T> result, const std::string& what) {
  if (!result.ok()) {
    progress("error: " + what + ": " + result.status().message());
    std::exit(1);
  }
  return std::move(result).value();
}

}  // namespace polaris::bench
