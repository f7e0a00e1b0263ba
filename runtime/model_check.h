// Checks a loaded model with generated inputs: what `polaris validate` runs
// (cli/validate_command.cc) and what poll mode runs on a new or changed
// version before it replaces the one serving (ManagerOptions::
// check_polled_versions).
//
// For each input the model takes (its metadata once the config's reshapes
// apply, so state and control inputs of sequence models too), a tensor is
// generated:
// uniform floats in [0, 1) (no log or sqrt of a negative from our data),
// small non-negative integers (valid indices for any embedding), "polaris"
// for strings; seeded, so two runs see the same data. Dynamic dims take a
// small and a large value (two cases; one when nothing is dynamic): the
// batch dim `small_batch` and `large_batch` (capped by max_batch_size),
// every other dynamic dim `small_dim` and `large_dim`. Each case must run,
// return every declared output with its datatype and a shape that agrees
// with the declaration, and produce no NaN or Inf. With a reference model
// (another engine on the same file), outputs of both are compared.
// Thread-safety: pure functions over the models given; the models' own run
// is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/status.h"
#include "core/tensor.h"
#include "proto/model_config.pb.h"

namespace polaris {

struct CheckOptions {
  int64_t small_batch = 1;
  int64_t large_batch = 8;  // capped by the config's max_batch_size
  int64_t small_dim = 1;
  int64_t large_dim = 64;
  // Runs per case timed after the checked run (0: no timing).
  int timing_runs = 0;
  // Outputs agree with the reference when max|a - b| <= tolerance * max|b|.
  double tolerance = 1e-3;
  uint32_t seed = 42;
};

enum class CheckOutcome { kPassed, kFailed, kSkipped };
std::string_view to_string(CheckOutcome outcome);  // "ok", "FAIL", "skip"

struct CheckResult {
  std::string name;    // "metadata", "run batch 1", "agrees with opencv"
  CheckOutcome outcome = CheckOutcome::kPassed;
  std::string detail;  // what was seen, or why it failed or was skipped
  double median_ms = -1;  // timing, when measured
};

struct CheckReport {
  std::vector<CheckResult> results;
  bool passed() const;
  // "run batch 8: ...; agrees with opencv: ..." for every failed check.
  std::string failures() const;
  void add(std::string name, CheckOutcome outcome, std::string detail) {
    results.push_back({std::move(name), outcome, std::move(detail)});
  }
};

// One set of generated inputs and the batch it stands for (0: the model
// does not batch).
struct GeneratedCase {
  std::string label;  // "batch 1", "batch 8, dynamic dims 64", "static shapes"
  NamedTensors inputs;
  int64_t batch = 0;
};

// The cases for a model's inputs (`config` gives max_batch_size), or why
// none can be built (an input of unknown type, a tensor over
// kMaxGeneratedBytes).
inline constexpr std::size_t kMaxGeneratedBytes = std::size_t{256} << 20;
Result<std::vector<GeneratedCase>> generated_cases(const ModelMetadata& metadata, const inference::ModelConfig& config,
                                                   const CheckOptions& options);

// Metadata (names present and unique, datatypes known), then every
// generated case. `config` is the completed one the model serves with. `reference`, when given, runs the same cases and
// its outputs are compared; a case the reference cannot run is skipped,
// not failed (OpenCV supports fewer operators than ONNX Runtime).
CheckReport check_model(Model& model, const inference::ModelConfig& config, const CheckOptions& options,
                        Model* reference = nullptr, const std::string& reference_name = "");

}  // namespace polaris
