// `polaris quantize MODEL --output OUT` and `polaris prune MODEL --output OUT`:
// the engines' own Python tools do the conversion in a child process
// (python/src/polaris/compress.py: ONNX Runtime's quantizer, torch's
// quantization and pruning), then Polaris measures both models with its
// own engines (cli/compress_report.h) and writes the result only when it
// loads, runs and keeps accuracy within --max-accuracy-drop. Exit codes:
// 0 written, 1 failed or refused, 2 bad arguments, 3 a Python tool missing.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "batch/image_preprocessing.h"
#include "batch/model_parameters.h"
#include "batch/sample_loading.h"
#include "cli/child_process.h"
#include "cli/commands.h"
#include "cli/compress_report.h"
#include "cli/logging.h"
#include "cli/python_tools.h"
#include "core/byte_size.h"
#include "core/npy.h"
#include "pull/durable_files.h"

namespace polaris::cli {
namespace {

namespace fs = std::filesystem;

struct CompressArgs {
  std::string command;  // "quantize" or "prune"
  std::string model, output;
  std::string mode = "dynamic";
  std::string calibration, preprocess;
  int calibration_count = 100;
  bool per_channel = false;
  double amount = 0.5;
  std::string eval_inputs, eval_labels;
  std::optional<double> max_accuracy_drop;  // percentage points
  int timing_runs = 20;
  bool json = false;
};

// Images in `folder` become .npy samples in `out` (preprocessed for the
// model's first input as `polaris predict --input-dir` would); a folder of
// .npy files is used as it is. At most `count` samples.
Result<std::string> calibration_folder(const CompressArgs& args, const fs::path& scratch) {
  std::vector<fs::path> images;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(args.calibration, ec))
    if (entry.is_regular_file() && batch::sample_kind(entry.path().string()) == batch::SampleKind::kImage)
      images.push_back(entry.path());
  if (ec) return NotFound("calibration folder '" + args.calibration + "': " + ec.message());
  if (images.empty()) return args.calibration;
  std::sort(images.begin(), images.end());
  if (images.size() > static_cast<std::size_t>(args.calibration_count)) images.resize(args.calibration_count);

  BackendRegistry registry{BackendConfig{}};
  LoadOptions cpu;
  cpu.providers = {"cpu"};
  POLARIS_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, registry.load(args.model, cpu));
  if (model->metadata().inputs.size() != 1)
    return InvalidArgument("calibration images need a model with one input");
  POLARIS_ASSIGN_OR_RETURN(auto parameters, batch::model_parameters(args.model));
  POLARIS_ASSIGN_OR_RETURN(batch::ImagePreprocessing preprocessing,
                           batch::preprocessing_for(model->metadata().inputs[0], parameters, args.preprocess));
  const fs::path out = scratch / "calibration";
  fs::create_directories(out);
  for (std::size_t i = 0; i < images.size(); ++i) {
    POLARIS_ASSIGN_OR_RETURN(Tensor sample, batch::load_sample(images[i].string(), preprocessing));
    POLARIS_RETURN_IF_ERROR(write_npy((out / fmt::format("{:05d}.npy", i)).string(), sample));
  }
  std::cerr << fmt::format("calibration: {} images preprocessed as '{}'\n", images.size(), preprocessing.preset);
  return out.string();
}

std::vector<std::string> tool_command(const CompressArgs& args, const std::string& tool, const std::string& output,
                                      const std::string& calibration) {
  std::vector<std::string> argv{python_interpreter(), tool, args.command, args.model, output};
  if (args.command == "prune") {
    argv.insert(argv.end(), {"--amount", fmt::format("{}", args.amount)});
    return argv;
  }
  argv.insert(argv.end(), {"--mode", args.mode});
  if (!calibration.empty())
    argv.insert(argv.end(), {"--calibration", calibration, "--calibration-limit", std::to_string(args.calibration_count)});
  if (args.per_channel) argv.push_back("--per-channel");
  return argv;
}

std::string accuracy_text(const std::optional<double>& accuracy) {
  return accuracy ? fmt::format("{:.2f}%", *accuracy * 100) : "-";
}

nlohmann::json figures_json(const ModelFigures& f) {
  nlohmann::json j = {{"bytes", f.file_bytes}, {"median_ms", f.median_ms}};
  if (f.accuracy) j["accuracy"] = *f.accuracy;
  return j;
}

void print_report(const CompressArgs& args, const nlohmann::json& tool, const CompressionFigures& f, bool written,
                  const std::string& refused) {
  if (args.json) {
    nlohmann::json j = {{"model", args.model}, {"output", args.output}, {"written", written}, {"tool", tool},
                        {"before", figures_json(f.before)}, {"after", figures_json(f.after)},
                        {"timing_runs", f.timing_runs}};
    if (!refused.empty()) j["refused"] = refused;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("{} {} -> {}: {}\n", args.command, args.model, args.output, tool.value("method", "?"));
  if (tool.contains("quantized_layers"))
    std::cout << fmt::format("  quantized layers: {}\n", tool["quantized_layers"].get<int>());
  if (tool.contains("note")) std::cout << "  note: " << tool["note"].get<std::string>() << "\n";
  if (tool.contains("pre_processing"))
    std::cout << "  pre-processing: " << tool["pre_processing"].get<std::string>() << "\n";
  if (tool.contains("calibration_samples"))
    std::cout << fmt::format("  calibrated on {} samples\n", tool["calibration_samples"].get<int>());
  if (tool.contains("sparsity"))
    std::cout << fmt::format("  sparsity reached: {:.1f}% of {} weights in {} tensors\n",
                             tool["sparsity"].get<double>() * 100, tool.value("weights", 0), tool.value("pruned_tensors", 0));
  std::cout << fmt::format("  {:<9} {:>12} {:>12}\n", "", "before", "after");
  std::cout << fmt::format("  {:<9} {:>12} {:>12}  ({:.2f}x)\n", "size", format_byte_size(f.before.file_bytes),
                           format_byte_size(f.after.file_bytes),
                           static_cast<double>(f.after.file_bytes) / static_cast<double>(f.before.file_bytes));
  std::cout << fmt::format("  {:<9} {:>9.3f} ms {:>9.3f} ms  ({:.2f}x speed; median of {} interleaved runs, batch 1)\n",
                           "latency", f.before.median_ms, f.after.median_ms,
                           f.after.median_ms > 0 ? f.before.median_ms / f.after.median_ms : 0, f.timing_runs);
  if (f.before.accuracy)
    std::cout << fmt::format("  {:<9} {:>12} {:>12}  ({:+.2f} points)\n", "accuracy", accuracy_text(f.before.accuracy),
                             accuracy_text(f.after.accuracy), (*f.after.accuracy - *f.before.accuracy) * 100);
  if (!refused.empty())
    std::cout << "REFUSED: " << refused << "; nothing written\n";
  else
    std::cout << "written: " << args.output << "\n";
}

int run_compress(const CompressArgs& args) {
  std::error_code ec;
  if (!fs::is_regular_file(args.model, ec)) {
    std::cerr << "error: '" << args.model << "' is not a model file\n";
    return 2;
  }
  if (fs::path(args.output).extension() != fs::path(args.model).extension()) {
    std::cerr << "error: --output must keep the model's extension (" << fs::path(args.model).extension().string()
              << "), so the engine that serves it knows it\n";
    return 2;
  }
  if (fs::exists(args.output, ec) && fs::equivalent(args.output, args.model, ec)) {
    std::cerr << "error: --output must not be the model itself\n";
    return 2;
  }
  if (args.command == "quantize" && args.mode == "static" && args.calibration.empty()) {
    std::cerr << "error: --mode static needs --calibration DIR (images or .npy samples)\n";
    return 2;
  }
  if (args.max_accuracy_drop && args.eval_inputs.empty()) {
    std::cerr << "error: --max-accuracy-drop needs a labelled set (--eval-inputs and --eval-labels)\n";
    return 2;
  }
  std::optional<LabelledSet> labelled;
  if (!args.eval_inputs.empty()) {
    auto set = read_labelled_set(args.eval_inputs, args.eval_labels);
    if (!set.ok()) {
      std::cerr << "error: " << set.status().message() << "\n";
      return 2;
    }
    labelled = std::move(*set);
  }
  auto tool = find_python_tool("compress.py");
  if (!tool.ok()) {
    std::cerr << "error: " << tool.status().message() << "\n";
    return 1;
  }
  // Work files beside the output: the final rename stays on one filesystem.
  const fs::path out_dir = fs::absolute(args.output).parent_path();
  fs::create_directories(out_dir, ec);
  const fs::path scratch = out_dir / fmt::format(".polaris-{}-{}", args.command, ::getpid());
  fs::create_directories(scratch, ec);
  if (ec) {
    std::cerr << "error: cannot write in " << out_dir.string() << ": " << ec.message() << "\n";
    return 1;
  }
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{scratch};
  const fs::path staged = scratch / fs::path(args.output).filename();

  std::string calibration;
  if (!args.calibration.empty()) {
    auto folder = calibration_folder(args, scratch);
    if (!folder.ok()) {
      std::cerr << "error: " << folder.status().message() << "\n";
      return folder.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
    }
    calibration = *folder;
  }
  auto child = run_child(tool_command(args, *tool, staged.string(), calibration));
  if (!child.ok() || child->exit_code == kPythonToolMissing) {
    std::cerr << (child.ok() ? "" : "error: " + child.status().message() + "\n")
              << "polaris " << args.command << " runs " << python_interpreter()
              << " with the engines' Python tools; set POLARIS_PYTHON to a Python that has them\n";
    return kPythonToolMissing;
  }
  if (child->exit_code != 0) {
    std::cerr << "error: the " << args.command << " tool failed (exit " << child->exit_code << ")\n";
    return 1;
  }
  const nlohmann::json result = nlohmann::json::parse(child->output, nullptr, false);
  if (result.is_discarded() || !result.is_object()) {
    std::cerr << "error: the " << args.command << " tool printed no result: " << child->output.substr(0, 200) << "\n";
    return 1;
  }

  BackendConfig one_thread;  // the most stable timing on a shared machine
  one_thread.threads.intra_op = 1;
  BackendRegistry registry{one_thread};
  auto figures = measure_compression(registry, args.model, staged.string(), args.timing_runs,
                                     labelled ? &*labelled : nullptr);
  if (!figures.ok()) {
    std::cerr << "error: " << figures.status().message() << "; nothing written\n";
    return 1;
  }
  std::string refused;
  if (args.max_accuracy_drop && figures->before.accuracy && figures->after.accuracy) {
    const double drop = (*figures->before.accuracy - *figures->after.accuracy) * 100;
    if (drop > *args.max_accuracy_drop)
      refused = fmt::format("accuracy dropped {:.2f} points, more than --max-accuracy-drop {}", drop,
                            *args.max_accuracy_drop);
  }
  if (refused.empty()) {
    if (Status s = pull::publish_durably(staged.string(), args.output); !s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return 1;
    }
  }
  print_report(args, result, *figures, refused.empty(), refused);
  return refused.empty() ? 0 : 1;
}

// Options both commands take: the model, the output, the report.
CLI::App* add_compress_command(CLI::App& app, const std::string& name, const std::string& help,
                               std::shared_ptr<CompressArgs> args, int& exit_code) {
  args->command = name;
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->add_option("model", args->model, "Model file (.onnx, .pt)")->required();
  cmd->add_option("--output,-o", args->output, "Where to write the result (same extension)")->required();
  cmd->add_option("--eval-inputs", args->eval_inputs, "Labelled set: a .npy of input rows [N, ...]");
  cmd->add_option("--eval-labels", args->eval_labels, "Labelled set: a .npy of N integer classes")->needs(
      cmd->get_option("--eval-inputs"));
  cmd->get_option("--eval-inputs")->needs(cmd->get_option("--eval-labels"));
  cmd->add_option("--max-accuracy-drop", args->max_accuracy_drop,
                  "Refuse to write a model whose top-1 accuracy drops more (percentage points)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timing-runs", args->timing_runs, "Interleaved timed runs of each model")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print the report as JSON");
  cmd->callback([args, &exit_code] {
    init_logging(LogLevel::kWarning);
    exit_code = run_compress(*args);
  });
  return cmd;
}

}  // namespace

void add_quantize_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CompressArgs>();
  CLI::App* cmd = add_compress_command(
      app, "quantize", "INT8 quantization with ONNX Runtime's or torch's tools, with a before/after report", args,
      exit_code);
  cmd->add_option("--mode", args->mode, "dynamic (no data) or static (QDQ, ONNX only; needs --calibration)")
      ->check(CLI::IsMember({"dynamic", "static"}))
      ->capture_default_str();
  cmd->add_option("--calibration", args->calibration, "Static: a folder of images or .npy samples");
  cmd->add_option("--calibration-count", args->calibration_count, "Static: samples used at most")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--preprocess", args->preprocess,
                  "Calibration images: imagenet, efficientnet-lite, unit or raw (default: the model config's, else "
                  "imagenet)");
  cmd->add_flag("--per-channel", args->per_channel, "Per-channel weight scales");
}

void add_prune_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CompressArgs>();
  CLI::App* cmd = add_compress_command(
      app, "prune", "L1 unstructured pruning of a TorchScript model with torch's utilities, with a report", args,
      exit_code);
  cmd->add_option("--amount", args->amount, "Fraction of each weight tensor set to zero")
      ->check(CLI::Range(0.01, 0.99))
      ->capture_default_str();
}

}  // namespace polaris::cli
