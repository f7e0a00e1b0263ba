// `polaris predict MODEL --input-dir DIR`: the model over a folder of images
// or .npy files (batch/folder_prediction.h), results as CSV or JSON Lines,
// progress on stderr.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "cli/model_loading.h"

namespace polaris::cli {

struct FolderArgs {
  std::string input_dir;
  std::string output = "-";  // "-": JSON Lines (or --format) on stdout
  std::string format;        // csv | jsonl; default from --output's extension
  std::string preprocess;    // a preset; default from the model's config
  int batch_size = 8;
  bool recursive = false;
};

void add_folder_options(CLI::App* cmd, FolderArgs& args);

// Exit code: 0 when the folder was processed (even with files that failed,
// which are reported), 1 when the model or the results file fails, 2 for a
// missing folder, a folder with nothing to predict, or bad options.
int run_predict_folder(const LoadedModel& loaded, const std::string& model_path, const FolderArgs& args, int top_k,
                       const std::string& labels_file);

// OpenCV reads its decoded-pixel limit when its library loads, before
// main(): for --input-dir, sets OPENCV_IO_MAX_IMAGE_PIXELS (unless the user
// did) and re-executes the binary, so the limit applies. Returns only when
// no re-execution is needed (or it failed).
void limit_image_pixels_for_input_dir(int argc, char** argv);

}  // namespace polaris::cli
