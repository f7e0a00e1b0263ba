// Top-k classes of a classifier output, with labels: what `polaris predict`
// prints for an output shaped [N, C] (or [C]) of floats.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace polaris::cli {

struct ClassScore {
  int64_t row = 0;
  int64_t index = 0;
  double score = 0;
  std::string label;  // "" when no labels file
};

// Empty when the tensor does not look like class scores (not FP16/FP32/FP64,
// or rank not 1 or 2, or fewer than two classes).
std::vector<ClassScore> top_k(const Tensor& scores, int k, const std::vector<std::string>& labels);
nlohmann::json top_k_json(const std::vector<ClassScore>& top);
void print_top_k(std::ostream& out, const std::vector<ClassScore>& top);

// labels.txt beside the model file or in a parent folder (Triton layout:
// <model>/labels.txt with the file in <model>/<version>/); "" if none.
std::string find_labels_file(const std::string& model_path);
// One label per line; empty when the file is missing.
std::vector<std::string> load_labels(const std::string& path);

}  // namespace polaris::cli
