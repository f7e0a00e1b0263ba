#include "runtime/model_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "core/npy.h"

namespace polaris {
namespace {

using Clock = std::chrono::steady_clock;

bool is_floating(DataType type) {
  return type == DataType::kFp16 || type == DataType::kFp32 || type == DataType::kFp64 || type == DataType::kBf16;
}

std::string plural(std::size_t n, const char* word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }

int64_t element_count_of(const Tensor& t) {
  auto count = t.shape().element_count();
  return count.ok() ? *count : 0;
}

std::string join(const std::vector<std::string>& problems) {
  std::string text;
  for (const auto& p : problems) text += (text.empty() ? "" : "; ") + p;
  return text;
}

// Uniform [0, 1) floats, small non-negative integers, alternating bools,
// "polaris" strings.
Result<Tensor> generated_tensor(const TensorInfo& info, const Shape& shape, std::mt19937& rng) {
  POLARIS_ASSIGN_OR_RETURN(int64_t count, shape.element_count());
  if (info.dtype == DataType::kBytes)
    return Tensor::from_strings(shape, std::vector<std::string>(static_cast<std::size_t>(count), "polaris"));
  POLARIS_ASSIGN_OR_RETURN(std::size_t bytes, shape.byte_size(info.dtype));
  if (bytes > kMaxGeneratedBytes)
    return ResourceExhausted(fmt::format("input '{}' of shape {} would take {} bytes, more than the {} MiB a check builds",
                                         info.name, shape.to_string(), bytes, kMaxGeneratedBytes >> 20));
  POLARIS_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(info.dtype, shape));
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  switch (info.dtype) {
    case DataType::kFp32: {
      float* values = static_cast<float*>(t.mutable_data());
      for (std::size_t i = 0; i < t.byte_size() / sizeof(float); ++i) values[i] = unit(rng);
      break;
    }
    case DataType::kFp64: {
      double* values = static_cast<double*>(t.mutable_data());
      for (std::size_t i = 0; i < t.byte_size() / sizeof(double); ++i) values[i] = unit(rng);
      break;
    }
    case DataType::kFp16:
    case DataType::kBf16:
      // The high byte of a positive half in [2^-8, 1): sign 0, a small
      // exponent, any mantissa (little endian: element byte 1).
      for (std::size_t i = 0; i < t.byte_size(); i += 2) {
        t.mutable_bytes()[i] = std::byte(rng() & 0xff);
        t.mutable_bytes()[i + 1] = std::byte(info.dtype == DataType::kFp16 ? 0x30 + rng() % 12 : 0x3c + rng() % 3);
      }
      break;
    case DataType::kBool:
      for (auto& b : t.mutable_bytes()) b = std::byte(rng() & 1);
      break;
    default:
      // Integers: 0..7 in the lowest byte, the rest zero (little endian).
      for (std::size_t i = 0; i < t.byte_size(); i += element_size(info.dtype)) t.mutable_bytes()[i] = std::byte(rng() % 8);
  }
  return t;
}

// The shape of one input in a case: dynamic dims replaced. The first dim of
// a batching model (or a dynamic first dim of any model) is the batch.
Shape case_shape(const Shape& declared, int64_t batch, int64_t dim) {
  std::vector<int64_t> dims = declared.dims();
  for (std::size_t i = 0; i < dims.size(); ++i)
    if (dims[i] < 0) dims[i] = i == 0 ? batch : dim;
  return Shape(std::move(dims));
}

std::string check_metadata(const ModelMetadata& m, CheckReport& report) {
  std::vector<std::string> problems;
  auto check_side = [&](const std::vector<TensorInfo>& tensors, const char* side) {
    std::set<std::string> seen;
    for (const TensorInfo& t : tensors) {
      if (t.name.empty()) problems.push_back(fmt::format("an {} has no name", side));
      if (!seen.insert(t.name).second) problems.push_back(fmt::format("{} '{}' is listed twice", side, t.name));
      if (t.dtype == DataType::kInvalid)
        problems.push_back(fmt::format("{} '{}' has no datatype (give the model a sidecar or a config)", side, t.name));
    }
  };
  check_side(m.inputs, "input");
  check_side(m.outputs, "output");
  if (m.outputs.empty()) problems.push_back("the model declares no output");
  std::string summary = fmt::format("{}, {}", plural(m.inputs.size(), "input"), plural(m.outputs.size(), "output"));
  if (problems.empty()) {
    report.add("metadata", CheckOutcome::kPassed, summary);
    return "";
  }
  const std::string joined = join(problems);
  report.add("metadata", CheckOutcome::kFailed, joined);
  return joined;
}

// Every declared output is there, with its datatype, a shape that fits the
// declaration (and the case's batch for a batching model), and only finite
// values.
std::string check_outputs(const ModelMetadata& m, const NamedTensors& outputs, int64_t batch) {
  std::vector<std::string> problems;
  for (const TensorInfo& declared : m.outputs) {
    auto it = std::find_if(outputs.begin(), outputs.end(), [&](const NamedTensor& o) { return o.name == declared.name; });
    if (it == outputs.end()) {
      problems.push_back(fmt::format("output '{}' is missing", declared.name));
      continue;
    }
    const Tensor& t = it->tensor;
    if (declared.dtype != DataType::kInvalid && t.dtype() != declared.dtype)
      problems.push_back(fmt::format("output '{}' is {}, declared {}", declared.name, to_string(t.dtype()),
                                     to_string(declared.dtype)));
    const bool batched_dim = batch > 0 && declared.shape.rank() > 0 && declared.shape[0] < 0;
    if (!t.shape().matches(declared.shape) || (batched_dim && t.shape()[0] != batch))
      problems.push_back(fmt::format("output '{}' has shape {}, declared {}{}", declared.name, t.shape().to_string(),
                                     declared.shape.to_string(), batched_dim ? fmt::format(" with batch {}", batch) : ""));
    if (is_floating(t.dtype())) {
      const int64_t count = element_count_of(t);
      int64_t nan = 0, inf = 0;
      for (int64_t i = 0; i < count; ++i) {
        const double v = element_as_double(t, static_cast<std::size_t>(i));
        nan += std::isnan(v);
        inf += std::isinf(v);
      }
      if (nan + inf > 0)
        problems.push_back(fmt::format("output '{}' holds {} NaN and {} Inf of {} values", declared.name, nan, inf, count));
    }
  }
  return join(problems);
}

std::string describe_outputs(const NamedTensors& outputs) {
  std::string text;
  for (const auto& o : outputs)
    text += fmt::format("{}{} {} {}", text.empty() ? "" : ", ", o.name, to_string(o.tensor.dtype()), o.tensor.shape().to_string());
  return text + (outputs.empty() ? "" : ", finite");
}

// max|a - b| / max|b| over the outputs both return; strings must be equal.
std::string compare_outputs(const NamedTensors& ours, const NamedTensors& theirs, double tolerance, double& worst) {
  worst = 0;
  for (const NamedTensor& a : ours) {
    auto b = std::find_if(theirs.begin(), theirs.end(), [&](const NamedTensor& t) { return t.name == a.name; });
    if (b == theirs.end()) continue;
    if (a.tensor.shape() != b->tensor.shape())
      return fmt::format("output '{}' has shape {} here and {} there", a.name, a.tensor.shape().to_string(),
                         b->tensor.shape().to_string());
    if (a.tensor.dtype() == DataType::kBytes || b->tensor.dtype() == DataType::kBytes) {
      auto ours_strings = a.tensor.strings();
      auto theirs_strings = b->tensor.strings();
      if (!ours_strings.ok() || !theirs_strings.ok() || *ours_strings != *theirs_strings)
        return fmt::format("output '{}' holds different strings", a.name);
      continue;
    }
    const int64_t count = element_count_of(a.tensor);
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < count; ++i) {
      const double x = element_as_double(a.tensor, static_cast<std::size_t>(i));
      const double y = element_as_double(b->tensor, static_cast<std::size_t>(i));
      diff = std::max(diff, std::abs(x - y));
      scale = std::max(scale, std::abs(y));
    }
    // Relative to the output's own magnitude: a model with random weights
    // answers around 1e-9, where any absolute floor would hide a difference.
    const double relative = diff == 0 ? 0 : scale > 0 ? diff / scale : std::numeric_limits<double>::infinity();
    worst = std::max(worst, relative);
    if (relative > tolerance)
      return fmt::format("output '{}' differs by up to {:.3g}, {:.3g} of its largest value {:.3g} (tolerance {:.3g})",
                         a.name, diff, relative, scale, tolerance);
  }
  return "";
}

double median_ms(Model& model, const NamedTensors& inputs, int runs) {
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    if (!model.run(inputs, {}).ok()) return -1;
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times.empty() ? -1 : times[times.size() / 2];
}

}  // namespace

std::string_view to_string(CheckOutcome outcome) {
  switch (outcome) {
    case CheckOutcome::kPassed: return "ok";
    case CheckOutcome::kFailed: return "FAIL";
    case CheckOutcome::kSkipped: return "skip";
  }
  return "?";
}

bool CheckReport::passed() const {
  return std::none_of(results.begin(), results.end(), [](const CheckResult& r) { return r.outcome == CheckOutcome::kFailed; });
}

std::string CheckReport::failures() const {
  std::string text;
  for (const CheckResult& r : results)
    if (r.outcome == CheckOutcome::kFailed) text += fmt::format("{}{}: {}", text.empty() ? "" : "; ", r.name, r.detail);
  return text;
}

Result<std::vector<GeneratedCase>> generated_cases(const ModelMetadata& metadata, const inference::ModelConfig& config,
                                                   const CheckOptions& options) {
  const int64_t max_batch = config.max_batch_size();
  bool batch_dynamic = false, other_dynamic = false;
  for (const TensorInfo& in : metadata.inputs) {
    if (in.dtype == DataType::kInvalid)
      return FailedPrecondition("the datatype of input '" + in.name + "' is unknown, so no input can be generated");
    for (std::size_t i = 0; i < in.shape.rank(); ++i)
      if (in.shape[i] < 0) (i == 0 ? batch_dynamic : other_dynamic) = true;
  }
  const int64_t large_batch = max_batch > 0 ? std::min(options.large_batch, max_batch) : options.large_batch;
  struct Sizes {
    int64_t batch, dim;
  };
  std::vector<Sizes> sizes{{options.small_batch, options.small_dim}};
  if ((batch_dynamic && large_batch != options.small_batch) || (other_dynamic && options.large_dim != options.small_dim))
    sizes.push_back({large_batch, options.large_dim});

  std::mt19937 rng(options.seed);
  std::vector<GeneratedCase> cases;
  for (const Sizes& s : sizes) {
    GeneratedCase c;
    if (batch_dynamic) c.label = fmt::format("batch {}", s.batch);
    if (other_dynamic) c.label += fmt::format("{}dynamic dims {}", c.label.empty() ? "" : ", ", s.dim);
    if (c.label.empty()) c.label = "static shapes";
    c.batch = max_batch > 0 ? s.batch : 0;
    for (const TensorInfo& in : metadata.inputs) {
      POLARIS_ASSIGN_OR_RETURN(Tensor t, generated_tensor(in, case_shape(in.shape, s.batch, s.dim), rng));
      c.inputs.push_back({in.name, std::move(t)});
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

CheckReport check_model(Model& model, const inference::ModelConfig& config, const CheckOptions& options,
                        Model* reference, const std::string& reference_name) {
  CheckReport report;
  const ModelMetadata& m = model.metadata();
  if (!check_metadata(m, report).empty()) return report;
  auto cases = generated_cases(m, config, options);
  if (!cases.ok()) {
    report.add("inputs", CheckOutcome::kFailed, cases.status().message());
    return report;
  }
  for (GeneratedCase& c : *cases) {
    const std::string name = "run " + c.label;
    auto outputs = model.run(c.inputs, {});
    if (!outputs.ok()) {
      report.add(name, CheckOutcome::kFailed, outputs.status().message());
      continue;
    }
    if (std::string problems = check_outputs(m, *outputs, c.batch); !problems.empty()) {
      report.add(name, CheckOutcome::kFailed, problems);
      continue;
    }
    report.add(name, CheckOutcome::kPassed, describe_outputs(*outputs));
    if (options.timing_runs > 0) {
      const double ms = median_ms(model, c.inputs, options.timing_runs);
      report.results.back().median_ms = ms;
      report.results.back().detail += fmt::format("; median {:.3f} ms over {}", ms, plural(options.timing_runs, "run"));
    }
    if (reference == nullptr) continue;
    const std::string versus = "agrees with " + reference_name + " (" + c.label + ")";
    auto theirs = reference->run(c.inputs, {});
    if (!theirs.ok()) {
      report.add(versus, CheckOutcome::kSkipped, reference_name + " cannot run it: " + theirs.status().message());
      continue;
    }
    double worst = 0;
    if (std::string differs = compare_outputs(*outputs, *theirs, options.tolerance, worst); !differs.empty())
      report.add(versus, CheckOutcome::kFailed, differs);
    else
      report.add(versus, CheckOutcome::kPassed, fmt::format("max relative difference {:.3g}", worst));
  }
  return report;
}

}  // namespace polaris
