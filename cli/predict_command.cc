// `polaris predict MODEL [--input name=file.npy ...] [--random|--zeros]
//  [--batch N] [--provider P] [--json]`: run a model once and print its
// outputs (top-k with labels for classifiers). With --input-dir, over a
// folder instead (cli/predict_folder.h).
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include "cli/model_loading.h"
#include "cli/predict_folder.h"
#include "cli/top_k.h"
#include "core/npy.h"

namespace polaris::cli {
namespace {

namespace fs = std::filesystem;

struct PredictArgs {
  ModelLoadArgs load;
  std::vector<std::string> inputs;  // name=file.npy
  bool random = false, zeros = false, json = false;
  int64_t batch = 1;
  int top_k = 5;
  std::string labels, output_dir;
  FolderArgs folder;
};

// A generated input for `info`'s shape: dynamic batch -> --batch, other
// dynamic dims -> 1. Seeded, so two runs see the same data.
Result<Tensor> generated_input(const TensorInfo& info, const PredictArgs& args, std::mt19937& rng) {
  if (info.dtype == DataType::kInvalid)
    return InvalidArgument("the model does not report the datatype of input '" + info.name +
                           "': pass --input " + info.name + "=file.npy (or give the model a sidecar .json)");
  std::vector<int64_t> dims = info.shape.dims();
  for (std::size_t i = 0; i < dims.size(); ++i)
    if (dims[i] < 0) dims[i] = i == 0 ? args.batch : 1;
  if (info.dtype == DataType::kBytes) {
    POLARIS_ASSIGN_OR_RETURN(int64_t count, Shape(dims).element_count());
    return Tensor::from_strings(Shape(dims), std::vector<std::string>(count, args.zeros ? "" : "polaris"));
  }
  POLARIS_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(info.dtype, Shape(dims)));
  if (args.zeros) return t;
  auto bytes = t.mutable_bytes();
  if (info.dtype == DataType::kFp32) {
    std::normal_distribution<float> normal;
    auto values = t.mutable_values<float>().value();
    for (auto& v : values) v = normal(rng);
  } else if (info.dtype == DataType::kBool) {
    for (auto& b : bytes) b = std::byte(rng() & 1);
  } else {
    // Small non-negative integers (and bit patterns of small halves) are
    // valid for every other type.
    for (std::size_t i = 0; i < bytes.size(); i += element_size(info.dtype)) bytes[i] = std::byte(rng() % 8);
  }
  return t;
}

Result<NamedTensors> build_inputs(const ModelMetadata& m, const PredictArgs& args) {
  NamedTensors inputs;
  for (const auto& spec : args.inputs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos) return InvalidArgument("--input takes name=file.npy, got '" + spec + "'");
    const std::string name = spec.substr(0, eq);
    const TensorInfo* info = m.find_input(name);
    auto as_type = info && info->dtype == DataType::kBf16 ? std::optional(DataType::kBf16) : std::nullopt;
    POLARIS_ASSIGN_OR_RETURN(Tensor t, read_npy(spec.substr(eq + 1), as_type));
    inputs.push_back({name, std::move(t)});
  }
  std::mt19937 rng(42);
  for (const auto& info : m.inputs) {
    bool given = false;
    for (const auto& in : inputs) given |= in.name == info.name;
    if (given) continue;
    if (!args.random && !args.zeros)
      return InvalidArgument("no data for input '" + info.name + "': pass --input " + info.name +
                             "=file.npy, or --random / --zeros");
    POLARIS_ASSIGN_OR_RETURN(Tensor t, generated_input(info, args, rng));
    inputs.push_back({info.name, std::move(t)});
  }
  return inputs;
}

nlohmann::json tensor_json(const NamedTensor& out) {
  nlohmann::json j = {{"name", out.name}, {"datatype", to_string(out.tensor.dtype())},
                      {"shape", out.tensor.shape().dims()}};
  if (out.tensor.dtype() == DataType::kBytes) {
    auto strings = out.tensor.strings();
    j["data"] = strings.ok() ? nlohmann::json(std::vector<std::string>(strings->begin(), strings->end()))
                             : nlohmann::json::array();
    return j;
  }
  const int64_t count = out.tensor.shape().element_count().value();
  auto data = nlohmann::json::array();
  for (int64_t i = 0; i < count; ++i) data.push_back(element_as_double(out.tensor, i));
  j["data"] = data;
  return j;
}

void print_tensor(const NamedTensor& out) {
  const int64_t count = out.tensor.shape().element_count().value();
  std::cout << fmt::format("{}  {}  {}\n  ", out.name, to_string(out.tensor.dtype()), out.tensor.shape().to_string());
  if (out.tensor.dtype() == DataType::kBytes) {
    if (auto strings = out.tensor.strings(); strings.ok())
      for (auto s : *strings) std::cout << '"' << s << "\" ";
  } else {
    for (int64_t i = 0; i < std::min<int64_t>(count, 8); ++i) std::cout << fmt::format("{:.6g} ", element_as_double(out.tensor, i));
    if (count > 8) std::cout << fmt::format("... ({} values)", count);
  }
  std::cout << "\n";
}

int run_predict(const PredictArgs& args) {
  int exit_code = 0;
  auto loaded = load_model_or_report(args.load, exit_code);
  if (!loaded) return exit_code;
  if (!args.folder.input_dir.empty()) return run_predict_folder(*loaded, args.load.model, args.folder, args.top_k, args.labels);
  const auto& model = loaded->model;
  auto inputs = build_inputs(model->metadata(), args);
  if (!inputs.ok()) {
    std::cerr << "error: " << inputs.status().message() << "\n";
    return 2;
  }
  auto outputs = model->run(*inputs, {});
  if (!outputs.ok()) {
    std::cerr << "error: " << outputs.status().to_string() << "\n";
    return 1;
  }
  const auto labels = load_labels(args.labels.empty() ? find_labels_file(args.load.model) : args.labels);
  nlohmann::json result = {{"model", model->metadata().name}, {"provider", model->metadata().provider}};
  for (const auto& out : *outputs) {
    auto top = top_k(out.tensor, args.top_k, labels);
    if (args.json) {
      auto j = tensor_json(out);
      if (!top.empty()) j["top_k"] = top_k_json(top);
      result["outputs"].push_back(j);
    } else {
      print_tensor(out);
      print_top_k(std::cout, top);
    }
    if (!args.output_dir.empty()) {
      fs::create_directories(args.output_dir);
      if (auto s = write_npy((fs::path(args.output_dir) / (out.name + ".npy")).string(), out.tensor); !s.ok())
        std::cerr << "warning: " << s.message() << "\n";
    }
  }
  if (args.json) std::cout << result.dump(2) << "\n";
  return 0;
}

}  // namespace

void add_predict_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "Run a model once and print its outputs, or over a folder of images (--input-dir)");
  add_model_load_options(cmd, args->load);
  cmd->add_option("--input", args->inputs, "name=file.npy (repeatable)");
  auto* random = cmd->add_flag("--random", args->random, "Random data for inputs not given (seeded)");
  cmd->add_flag("--zeros", args->zeros, "Zeros for inputs not given")->excludes(random);
  cmd->add_option("--batch", args->batch, "Batch size for generated inputs with a dynamic first dim")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  cmd->add_option("--top-k", args->top_k, "Classes shown per row for classifier outputs (0: none)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--labels", args->labels, "Labels file, one per line (default: labels.txt near the model)");
  cmd->add_option("--output-dir", args->output_dir, "Also write each output as <dir>/<name>.npy");
  cmd->add_flag("--json", args->json, "Print JSON");
  add_folder_options(cmd, args->folder);
  cmd->callback([args, &exit_code] { exit_code = run_predict(*args); });
}

}  // namespace polaris::cli
