#include "cli/predict_folder.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "batch/folder_prediction.h"
#include "batch/model_parameters.h"
#include "batch/result_writers.h"
#include "batch/sample_loading.h"
#include "cli/progress_line.h"
#include "core/class_scores.h"

namespace polaris::cli {
namespace {

namespace fs = std::filesystem;

// Progress on stderr: a bar redrawn in place on a terminal, otherwise a
// plain line at every tenth of the run (and at the end).
class ProgressPrinter {
 public:
  void file_failed(const batch::FileResult& r) { line_.print("skipped " + r.status.message()); }
  void update(const batch::Progress& p) {
    const double rate = p.seconds > 0 ? p.done / p.seconds : 0;
    const double eta = rate > 0 ? (p.total - p.done) / rate : 0;
    if (line_.terminal()) {
      const int width = 30, filled = p.total ? static_cast<int>(width * p.done / p.total) : width;
      line_.redraw(fmt::format("[{}{}] {}/{} files, {} failed, {:.1f} files/s, ETA {:.0f} s", std::string(filled, '#'),
                               std::string(width - filled, '.'), p.done, p.total, p.failed, rate, eta));
      return;
    }
    const int64_t tenth = p.total ? p.done * 10 / p.total : 10;
    if (tenth == last_tenth_ && p.done != p.total) return;
    last_tenth_ = tenth;
    line_.print(fmt::format("progress: {}/{} files, {} failed, {:.1f} files/s", p.done, p.total, p.failed, rate));
  }
  void clear() { line_.clear(); }

 private:
  ProgressLine line_;
  int64_t last_tenth_ = -1;
};

}  // namespace

void add_folder_options(CLI::App* cmd, FolderArgs& args) {
  cmd->add_option("--input-dir", args.input_dir, "Run the model over every image and .npy file of this folder");
  cmd->add_option("--output", args.output, "With --input-dir: results file (.csv or .jsonl; default: JSON Lines on "
                                           "stdout)");
  cmd->add_option("--format", args.format, "With --input-dir: csv or jsonl (default: from --output)")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  cmd->add_option("--preprocess", args.preprocess,
                  "With --input-dir: imagenet, efficientnet-lite, unit or raw (default: the model config's "
                  "polaris.preprocess, else imagenet)");
  cmd->add_option("--batch-size", args.batch_size, "With --input-dir: images per engine call")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_flag("--recursive", args.recursive, "With --input-dir: include subfolders");
}

int run_predict_folder(const LoadedModel& loaded, const std::string& model_path, const FolderArgs& args, int top_k,
                       const std::string& labels_file) {
  Model& model = *loaded.model;
  auto listing = batch::list_folder(args.input_dir, args.recursive);
  if (!listing.ok()) {
    std::cerr << "error: " << listing.status().message() << "\n";
    return 2;
  }
  if (listing->files.empty()) {
    std::cerr << fmt::format("error: no image or .npy file in {} ({} other files)\n", args.input_dir,
                             listing->skipped.size());
    return 2;
  }
  if (model.metadata().inputs.size() != 1) {
    std::cerr << fmt::format("error: --input-dir needs a model with one input; '{}' has {}\n", model.metadata().name,
                             model.metadata().inputs.size());
    return 2;
  }
  const TensorInfo& input = model.metadata().inputs[0];
  auto parameters = batch::model_parameters(model_path);
  auto preprocessing = parameters.ok() ? batch::preprocessing_for(input, *parameters, args.preprocess)
                                       : Result<batch::ImagePreprocessing>(parameters.status());
  auto format = !args.format.empty() ? batch::parse_format(args.format)
                : args.output == "-"  ? Result<batch::ResultFormat>(batch::ResultFormat::kJsonLines)
                                      : batch::format_for_path(args.output);
  for (const Status& s : {preprocessing.status(), format.status()})
    if (!s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return 2;
    }
  auto writer = batch::ResultWriter::open(args.output, *format);
  if (!writer.ok()) {
    std::cerr << "error: " << writer.status().message() << "\n";
    return 1;
  }
  std::cerr << fmt::format("{} files in {} ({} others ignored); preprocessing {}\n", listing->files.size(),
                           args.input_dir, listing->skipped.size(), preprocessing->describe());

  batch::FolderPredictionOptions options;
  options.batch_size = args.batch_size;
  options.top_k = top_k;
  options.labels = load_labels(labels_file.empty() ? find_labels_file(model_path) : labels_file);
  ProgressPrinter printer;
  Status write_status;
  auto summary = batch::predict_files(
      listing->files, input, *preprocessing,
      [&](const NamedTensors& in, const std::vector<std::string>& out) { return model.run(in, out); }, options,
      [&](const batch::FileResult& r) {
        if (!r.status.ok()) printer.file_failed(r);
        if (write_status.ok()) write_status = (*writer)->write(r);
      },
      [&](const batch::Progress& p) { printer.update(p); });
  printer.clear();
  if (write_status.ok()) write_status = (*writer)->finish();
  if (!summary.ok() || !write_status.ok()) {
    std::cerr << "error: " << (summary.ok() ? write_status : summary.status()).message() << "\n";
    return summary.ok() ? 1 : 2;
  }
  std::cerr << fmt::format("done: {} files predicted, {} failed, in {:.1f} s ({:.1f} files/s){}\n", summary->processed,
                           summary->failed, summary->seconds, summary->files_per_second(),
                           args.output == "-" ? "" : "; results in " + args.output);
  return 0;
}

void limit_image_pixels_for_input_dir(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "predict") != 0 || std::getenv("OPENCV_IO_MAX_IMAGE_PIXELS")) return;
  bool folder = false;
  for (int i = 2; i < argc; ++i) folder |= std::strncmp(argv[i], "--input-dir", 11) == 0;
  if (!folder) return;
  ::setenv("OPENCV_IO_MAX_IMAGE_PIXELS", std::to_string(batch::kMaxImagePixels).c_str(), 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: go on with OpenCV's default
}

}  // namespace polaris::cli
